"""No emoji or pictograph in what the app draws: a kiosk without an emoji font shows them as boxes.

Scans the page scripts, the UI package and the catalog text that pages display. Icons come from
Streamlit's Material set (``:material/name:``) or are words.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Emoji and pictograph blocks, dingbats, geometric "status" squares and circles, variation selectors.
PICTOGRAPH = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u25A0-\u25FF\uFE0F]")
SCANNED = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")),
           *sorted((ROOT / "secmlops_core" / "ui").glob("*.py")),
           *sorted((ROOT / "secmlops_core" / "catalog").rglob("*.yaml"))]


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pictographs(path):
    found = [(number, match.group(0)) for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
             for match in PICTOGRAPH.finditer(line)]
    assert not found, f"{path.relative_to(ROOT)}: pictographs at " + ", ".join(
        f"line {number} (U+{ord(char):04X})" for number, char in found)
