"""Helpers for end-to-end tests."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def wait_for_app_idle(page: Page, timeout_ms: int = 60_000) -> None:
    """Wait until the app is connected and no script run is in progress."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.wait_for_function(
        "() => { const app = document.querySelector(\"[data-testid='stApp']\");"
        " return app && app.getAttribute('data-test-connection-state') === 'CONNECTED'"
        " && app.getAttribute('data-test-script-state') !== 'running'; }",
        timeout=timeout_ms)


def assert_no_exception(page: Page) -> None:
    """Fail when Streamlit shows an exception box."""
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def open_app_page(page: Page, app_url: str, url_path: str = "") -> None:
    """Open a page of the app by its URL path, wait for it to settle, check for errors."""
    page.goto(f"{app_url}/{url_path}")
    wait_for_app_idle(page)
    page.wait_for_timeout(300)
    wait_for_app_idle(page)
    assert_no_exception(page)


def run_small_attack(page: Page) -> Locator:
    """On an open Attack lab page: set a small frame (imgsz 320) and press "Run attack"; returns the
    locator of the attacked-count metric the result will show."""
    page.get_by_text("Parameters", exact=True).click()
    size = page.get_by_role("spinbutton", name="imgsz")
    size.fill("320")
    size.press("Enter")
    wait_for_app_idle(page)
    page.get_by_role("button", name="Run attack").click()
    return page.locator("[data-testid='stMetric']").filter(has_text="Pedestrians (attacked)")
