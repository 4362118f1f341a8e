"""What every rendered document shares: HTML escaping, the report stylesheet, HTML and
Markdown tables, and text made safe inside Markdown."""

from __future__ import annotations

import re
from html import escape

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!])")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1c2833;line-height:1.4}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #cfd8dc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #cfd8dc;padding:.3rem .45rem;vertical-align:top;text-align:left}
th{background:#eceff1} .band{color:#fff;padding:.05rem .4rem;border-radius:.25rem;font-weight:600;white-space:nowrap}
.note{color:#546e7a} .muted{color:#607d8b;font-size:.8rem} .new{color:#6a1b9a;font-weight:700}
.cards{display:flex;gap:.6rem;flex-wrap:wrap} .card{border:1px solid #cfd8dc;border-radius:.4rem;padding:.4rem .8rem}
.card b{font-size:1.4rem;display:block}
@media print{body{margin:.6cm} h2{page-break-after:avoid} tr{page-break-inside:avoid} a{color:inherit}}
"""


def esc(value) -> str:
    """Any value as HTML text (``None`` is empty; quotes escaped, so it is safe in attributes too)."""
    return escape("" if value is None else str(value), quote=True)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """A table whose cells are already escaped HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def md_text(value) -> str:
    """User or catalog text made safe inside Markdown (no markup, links, HTML or table breaks)."""
    text = " ".join(str(value if value is not None else "").split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table as lines; every cell goes through :func:`md_text`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_text(cell) for cell in row) + " |" for row in rows]
    return lines
