"""User text inside Markdown: the one escaping helper of the UI.

Streamlit renders Markdown in st.markdown, st.caption, st.write of strings, alerts, headings,
toasts, widget and expander/tab labels, help tooltips, radio and segmented-control options,
image captions and progress texts (select box options and dataframe cells are plain text). Any
user text placed there (names, descriptions, notes, file names, error messages that quote them,
link parameters) goes through :func:`escape_markdown` first, so that no image is fetched, no
HTML, link, heading, list or formatting is made, and no Streamlit directive (``:red[..]``,
``:material/..:``, ``$..$``) applies.
"""

from __future__ import annotations

import re

# Characters that open an inline construct anywhere in a line (CommonMark, GFM and Streamlit's
# directives and math). A backslash-escaped ASCII punctuation character is shown literally, and
# an escaped "<" or "&" starts neither raw HTML nor an entity, also where raw HTML is enabled.
_ANYWHERE = re.compile(r"([\\`*_{}\[\]()<>#+!|~:$&])")
# Characters that open a block only at the start of a line: "- item", "1. item", a setext
# underline or rule ("===", "---", "- - -"); and the dot of a bare "www." link.
_LINE_START = re.compile(r"(^|[\r\n])([ \t]*)(?:([-=])|(\d+)\.)(?=[-= \t\r\n]|$)")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)


def _line_start(match: re.Match) -> str:
    head = match.group(1) + match.group(2)
    return head + ("\\" + match.group(3) if match.group(3) else match.group(4) + "\\.")


def escape_markdown(text) -> str:
    """``text`` (any value; None is empty) as Markdown that shows it literally."""
    escaped = _ANYWHERE.sub(r"\\\1", "" if text is None else str(text))
    return _WWW.sub(r"\1\\.", _LINE_START.sub(_line_start, escaped))
