"""The one helper that makes user text literal wherever Streamlit renders Markdown."""

import re

import pytest

from secmlops_core.ui.text import escape_markdown

HOSTILE = ["![x](http://127.0.0.1:9/leak.png)", "<img src=http://127.0.0.1:9/x>", "[click](javascript:alert(1))",
           "**bold**", "__init__", "*a* _b_ ~~gone~~ `code`", "# heading", "> quote", "- item", "+ item",
           "1. item", "2) item", "a | b\n--- | ---", "name\n===", "name\n---", "<https://example.org>",
           "https://example.org/x.png www.example.org", "[ref]: http://x\n[ref]", "\\*not\\*", "a\\\nb",
           "O'Brien & \"Sons\" &amp; &#x27; &lt;img&gt;", "[^1] and - [ ] task", "<!-- c -->", "x_y_z 3 * 4 * 5"]


@pytest.mark.parametrize("text", HOSTILE)
def test_commonmark_shows_the_escaped_text_literally(text):
    markdown_it = pytest.importorskip("markdown_it")
    from markdown_it.common.utils import escapeHtml

    renderer = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    assert renderer.render(escape_markdown(text)) == f"<p>{escapeHtml(text)}</p>\n"


@pytest.mark.parametrize("text", HOSTILE + [":red[red] :material/home: :smile: $x^2$", "{a}"])
def test_only_backslashes_are_added(text):
    escaped = escape_markdown(text)
    assert re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", escaped) == text
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)  # what is left outside escapes
    assert not set(unescaped) & set("\\`*_{}[]()<>#+!|~:$&"), escaped


def test_streamlit_directives_and_math_are_escaped():
    assert escape_markdown(":red[x] :material/home: $x$") == "\\:red\\[x\\] \\:material/home\\: \\$x\\$"


def test_plain_text_is_unchanged_and_none_is_empty():
    for text in ("Pedestrian detection system 2", "Zürich café", "cam-a", "SML-INF-002", "-75m..-15m",
                 "O'Brien, 50 % done; why? a=b", "e-mail alice@example.org"):
        assert escape_markdown(text) == text
    assert escape_markdown(None) == ""
    assert escape_markdown(42) == "42"


def test_block_markers_are_escaped_only_where_a_line_starts():
    assert escape_markdown("- a\n  - b\nc - d") == "\\- a\n  \\- b\nc - d"
    assert escape_markdown("10. x, 1.5 y") == "10\\. x, 1.5 y"
    assert escape_markdown("a_b") == "a\\_b"


def test_the_flow_editor_uses_the_same_helper():
    from secmlops_core.ui import flow_adapter, text

    assert flow_adapter.escape_markdown is text.escape_markdown
