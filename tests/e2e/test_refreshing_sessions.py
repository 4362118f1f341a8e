"""Pages that refresh on their own keep the signed-in person (auth_mode=local), and a session
timeout reaches them too: the Ops wall for a kiosk and for a signed-in viewer, the Attack lab
while its job panel polls, the Live page across the timeout."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from secmlops_core.access import users
from secmlops_core.access.policy import LOCAL_OPERATOR, acting_as
from secmlops_core.store import get_store
from tests.e2e.conftest import start_streamlit, stop_process
from tests.e2e.helpers import run_small_attack, wait_for_app_idle

pytestmark = pytest.mark.e2e

WALL_REFRESH_S = 2


def _server(tmp_path_factory, **settings: str):
    home = tmp_path_factory.mktemp("refreshing") / "home"
    home.mkdir()
    store = get_store(home / "secmlops.duckdb")
    with acting_as(LOCAL_OPERATOR):  # module fixtures run outside the per-test operator
        users.add_user(store, "vic", ["viewer"], "viewer password")
        users.add_user(store, "rita", ["red_team"], "red team password")
        token = users.create_kiosk_token(store, "lobby")
    env = {"SECMLOPS_AUTH_MODE": "local", **{f"SECMLOPS_{k.upper()}": v for k, v in settings.items()}}
    process, url = start_streamlit(home, env)
    return process, url, token


@pytest.fixture(scope="module")
def signed_in_server(tmp_path_factory):
    """A local-accounts server with a fast wall."""
    process, url, token = _server(tmp_path_factory, wall_refresh_seconds=str(WALL_REFRESH_S))
    yield url, token
    stop_process(process)


@pytest.fixture()
def short_session_server(tmp_path_factory):
    """A local-accounts server whose sessions end after one minute."""
    process, url, _ = _server(tmp_path_factory, session_timeout_minutes="1")
    yield url
    stop_process(process)


def _sign_in(page, url: str, username: str, password: str, path: str = "") -> float:
    page.goto(f"{url}/{path}")
    wait_for_app_idle(page)
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible(timeout=30_000)
    return time.monotonic()


def _watch_wall(page, samples: int) -> None:
    """Sample the wall across several of its own refreshes: its data every time, never a refusal."""
    expect(page.get_by_text("Feeds up")).to_be_visible(timeout=60_000)
    first_footer = page.get_by_text("Updated ").first.inner_text()
    for _ in range(samples):
        page.wait_for_timeout(WALL_REFRESH_S * 1000)
        expect(page.get_by_text("could not read its data")).to_have_count(0)
        expect(page.get_by_text("Sign in first")).to_have_count(0)
        expect(page.get_by_text("Feeds up")).to_be_visible()
    assert page.get_by_text("Updated ").first.inner_text() != first_footer, "the wall never refreshed"


def test_kiosk_wall_keeps_its_data_across_refreshes(page, signed_in_server):
    url, token = signed_in_server
    page.goto(f"{url}/ops_wall?embed=true&kiosk={token}")
    _watch_wall(page, samples=6)


def test_signed_in_viewer_wall_keeps_its_data_across_refreshes(page, signed_in_server):
    url, _ = signed_in_server
    _sign_in(page, url, "vic", "viewer password")
    page.get_by_role("link", name="Ops wall").click()
    _watch_wall(page, samples=6)


def test_attack_lab_follows_its_job_to_the_result(page, signed_in_server):
    url, _ = signed_in_server
    _sign_in(page, url, "rita", "red team password", "attack_lab?demo=pgd-vanish")
    attacked = run_small_attack(page)
    deadline = time.monotonic() + 240
    while not attacked.count():  # the job panel polls the job once a second until the result
        assert time.monotonic() < deadline, "the attack's result never appeared"
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        expect(page.get_by_text("Sign in first")).to_have_count(0)
        page.wait_for_timeout(1000)
    wait_for_app_idle(page)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_live_page_stops_at_the_session_timeout(page, short_session_server):
    url = short_session_server
    signed_in_at = _sign_in(page, url, "vic", "viewer password", "live")
    expect(page.get_by_role("heading", name="Live detector")).to_be_visible(timeout=30_000)
    # Nobody touches the page: its own refresh must meet the timeout (60 s) and show the gate.
    # 60 s timeout, re-checked every 30 s; a loaded 2-core machine may queue refreshes for a while.
    expect(page.get_by_role("heading", name="Sign in to SecMLOps Studio")).to_be_visible(timeout=150_000)
    assert time.monotonic() - signed_in_at >= 55
    expect(page.get_by_text("Your session has expired")).to_be_visible()
    expect(page.get_by_role("heading", name="Live detector")).to_have_count(0)
