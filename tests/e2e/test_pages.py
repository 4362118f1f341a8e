"""Every page listed in the navigation opens in a real browser without an exception."""

import ast

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.helpers import open_app_page


def listed_pages() -> list[str]:
    """URL paths of the pages in app.py's PAGES list (Streamlit derives them from file names)."""
    tree = ast.parse((REPO_ROOT / "app.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            entries = ast.literal_eval(node.value)
            return [("" if i == 0 else path.split("/")[-1].removesuffix(".py")) for i, (_, path, _, _) in
                    enumerate(entries)]
    raise AssertionError("PAGES not found in app.py")


@pytest.mark.parametrize("url_path", listed_pages())
def test_page_opens_without_exception(page, app_url, url_path):
    open_app_page(page, app_url, url_path)
    assert page.locator("[data-testid='stMain']").count() == 1
