"""Every page listed in the navigation opens in a real browser without an exception."""

import pytest

from secmlops_core.ui.navigation import PAGES
from tests.e2e.helpers import open_app_page


def listed_pages() -> list[str]:
    """URL paths of the app's pages (the landing page answers at the root)."""
    return ["" if index == 0 else page.url_path for index, page in enumerate(PAGES)]


@pytest.mark.parametrize("url_path", listed_pages())
def test_page_opens_without_exception(page, app_url, url_path):
    open_app_page(page, app_url, url_path)
    assert page.locator("[data-testid='stMain']").count() == 1
