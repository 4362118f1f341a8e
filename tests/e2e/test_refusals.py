"""What only a browser shows: the documented kiosk link opens the wall with no "Page not found"
modal, and the designer's import error stays on screen (the graph component's own reruns used
to wipe it after about two seconds)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from secmlops_core.access import users
from secmlops_core.access.policy import LOCAL_OPERATOR, acting_as
from secmlops_core.store import get_store
from tests.e2e.conftest import start_streamlit, stop_process
from tests.e2e.helpers import assert_no_exception, wait_for_app_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def accounts_server(tmp_path_factory):
    """A local-accounts server with an administrator and a kiosk token."""
    home = tmp_path_factory.mktemp("refusals") / "home"
    home.mkdir()
    store = get_store(home / "secmlops.duckdb")
    with acting_as(LOCAL_OPERATOR):  # module fixtures run outside the per-test operator
        users.add_user(store, "ada", ["admin"], "admin password 1")
        token = users.create_kiosk_token(store, "lobby")
    process, url = start_streamlit(home, {"SECMLOPS_AUTH_MODE": "local"})
    yield url, token
    stop_process(process)


def test_documented_kiosk_link_opens_the_wall_without_a_modal(page, accounts_server):
    url, token = accounts_server
    page.goto(f"{url}/ops_wall?embed=true&kiosk={token}")  # as `secmlops users kiosk-token` prints it
    wait_for_app_idle(page)
    expect(page.get_by_text("Feeds up")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    wait_for_app_idle(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert_no_exception(page)
    # The root address of a kiosk session shows the wall too.
    page.goto(f"{url}/?embed=true&kiosk={token}")
    wait_for_app_idle(page)
    expect(page.get_by_text("Feeds up")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_designer_import_error_stays_on_screen(page, app_url):
    # Importing right after the page opens: the graph component reports its first state a moment
    # later, and that rerun used to wipe the error (after about two seconds).
    page.goto(app_url)
    wait_for_app_idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Import a file").click()
    sidebar.locator("input[type='file']").set_input_files(
        {"name": "broken.yaml", "mimeType": "application/yaml", "buffer": b"stages: [unclosed"})
    wait_for_app_idle(page)
    sidebar.get_by_role("button", name="Import", exact=True).click()
    error = page.locator("[data-testid='stAlert']").filter(has_text="invalid YAML")
    expect(error).to_be_visible()
    seen = []
    for _ in range(24):  # six seconds
        page.wait_for_timeout(250)
        seen.append(error.count())
    assert seen == [1] * len(seen), f"the import error left the screen: {seen}"
    wait_for_app_idle(page)
    expect(error).to_be_visible()
    assert_no_exception(page)
