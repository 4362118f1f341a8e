"""No page can be reached around the sign-in gate, even as the first request of a fresh server."""

import pytest
from playwright.sync_api import expect

from secmlops_core.access import users
from secmlops_core.store import get_store
from tests.e2e.conftest import start_streamlit, stop_process
from tests.e2e.helpers import wait_for_app_idle

pytestmark = pytest.mark.e2e


@pytest.fixture()
def local_accounts_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    users.add_user(get_store(home / "secmlops.duckdb"), "pat", ["participant"], "participant password")
    return home


@pytest.mark.parametrize("launcher", ["secmlops_core.ui.launch", "streamlit"])
def test_first_request_to_a_page_url_meets_the_gate(page, local_accounts_home, launcher):
    process, url = start_streamlit(local_accounts_home, {"SECMLOPS_AUTH_MODE": "local"}, launcher=launcher)
    try:
        page.goto(f"{url}/audit")
        wait_for_app_idle(page)
        expect(page.get_by_role("heading", name="Audit trail")).to_have_count(0)
        expect(page.get_by_text("Hash chain intact")).to_have_count(0)
        if launcher == "streamlit":  # plain Streamlit ran the page file directly: the page's own guard held
            expect(page.get_by_text("Please sign in")).to_be_visible()
        else:
            expect(page.get_by_role("heading", name="Sign in to SecMLOps Studio")).to_be_visible()
            page.get_by_label("Username").fill("pat")
            page.get_by_role("textbox", name="Password").fill("participant password")
            page.get_by_role("button", name="Sign in").click()
            wait_for_app_idle(page)
            # A participant may not read the audit trail: the deep link falls back to the first page.
            expect(page.get_by_role("heading", name="Pipeline designer")).to_be_visible()
            expect(page.get_by_text("Signed in as pat")).to_be_visible()
            page.goto(f"{url}/audit")
            wait_for_app_idle(page)
            expect(page.get_by_text("Hash chain intact")).to_have_count(0)
    finally:
        stop_process(process)


def test_revoked_kiosk_token_and_removed_account_lose_their_open_sessions(browser, local_accounts_home):
    """A wall screen left open and a signed-in tab both lose access within the re-check interval
    (RECHECK_SECONDS, 30 s) once the token is revoked or the account removed."""
    store = get_store(local_accounts_home / "secmlops.duckdb")
    token = users.create_kiosk_token(store, "lobby")
    process, url = start_streamlit(local_accounts_home, {"SECMLOPS_AUTH_MODE": "local"})
    wall_context, tab_context = browser.new_context(), browser.new_context()
    try:
        wall = wall_context.new_page()
        wall.goto(f"{url}/ops_wall?embed=true&kiosk={token}")
        expect(wall.get_by_text("Feeds up")).to_be_visible(timeout=60_000)
        tab = tab_context.new_page()
        tab.goto(url)
        wait_for_app_idle(tab)
        tab.get_by_label("Username").fill("pat")
        tab.get_by_role("textbox", name="Password").fill("participant password")
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.get_by_text("Signed in as pat")).to_be_visible(timeout=30_000)

        users.revoke_kiosk_tokens(store, "lobby")
        users.remove_user(store, "pat")
        # The wall refreshes on its own; nobody touches it.
        expect(wall.get_by_text("revoked")).to_be_visible(timeout=75_000)
        expect(wall.get_by_text("Feeds up")).to_have_count(0)
        tab.wait_for_timeout(31_000)
        tab.get_by_role("link", name="Threats").click()  # any interaction reruns the app
        expect(tab.get_by_role("heading", name="Sign in to SecMLOps Studio")).to_be_visible(timeout=30_000)
        expect(tab.get_by_text("Signed in as pat")).to_have_count(0)
    finally:
        wall_context.close()
        tab_context.close()
        stop_process(process)
