"""Who sees which page comes from one table (secmlops_core/ui/navigation.py), read by app.py's
navigation and by every page's own guard."""

from pathlib import Path

import pytest

from secmlops_core.access.policy import LOCAL_OPERATOR, Principal
from secmlops_core.ui.navigation import PAGES, page_for, visible_pages
from tests.conftest import REPO_ROOT

PARTICIPANT = Principal("pat", frozenset({"participant"}), "Pat", "password")
KIOSK = Principal("kiosk:lobby", frozenset({"viewer"}), "Kiosk lobby", "kiosk")


def test_every_page_file_has_one_entry_and_calls_its_guard():
    files = sorted(p.name for p in (REPO_ROOT / "pages").glob("*.py"))
    assert sorted(Path(p.path).name for p in PAGES) == files
    for name in files:
        assert "page_guard(__file__)" in (REPO_ROOT / "pages" / name).read_text(encoding="utf-8")


def test_permissions_decide_the_visible_pages():
    assert page_for("/any/where/pages/audit.py").permission == "view_audit"
    assert "pages/audit.py" in [p.path for p in visible_pages(LOCAL_OPERATOR)]
    assert "pages/audit.py" not in [p.path for p in visible_pages(PARTICIPANT)]
    assert [p.path for p in visible_pages(KIOSK)] == ["pages/ops_wall.py"]
    with pytest.raises(KeyError):
        page_for("pages/unknown.py")
