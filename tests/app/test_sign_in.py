"""Sign-in gate in local-accounts mode, kiosk tokens, and what a viewer may see and do."""

import pytest
from streamlit.testing.v1 import AppTest

from secmlops_core.access import users
from secmlops_core.store import get_store
from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")


@pytest.fixture()
def local_mode(secmlops_home, monkeypatch):
    import secmlops_core.ui.shell as shell
    from secmlops_core import settings

    monkeypatch.setenv("SECMLOPS_AUTH_MODE", "local")
    settings.get_settings.cache_clear()
    shell._bootstrap.clear()
    store = get_store(secmlops_home / "secmlops.duckdb")
    users.add_user(store, "vera", ["viewer"], "viewer password 1")
    users.add_user(store, "pat", ["participant"], "participant password", pipelines=["pds"])
    return store


def _sign_in(username, password):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.title[0].value == "Sign in to SecMLOps Studio"
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def test_nothing_is_shown_before_sign_in(local_mode):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to SecMLOps Studio"]


def test_wrong_password_is_refused(local_mode):
    at = _sign_in("pat", "not the password")
    assert "Wrong username or password." in at.error[0].value
    assert [t.value for t in at.title] == ["Sign in to SecMLOps Studio"]


def test_participant_signs_in_and_edits(local_mode):
    at = _sign_in("pat", "participant password")
    assert not at.exception
    assert at.title[0].value == "Pipeline designer"
    assert any(b.label == "Save version" for b in at.button)
    assert "Signed in as pat · participant" in at.sidebar.caption[0].value


def test_viewer_sees_a_read_only_designer(local_mode):
    at = _sign_in("vera", "viewer password 1")
    assert not at.exception
    assert at.title[0].value == "Pipeline designer"
    assert any("Read-only" in i.value for i in at.info)
    assert not any(b.label == "Save version" for b in at.button)


def test_kiosk_token_opens_without_a_password(local_mode):
    token = users.create_kiosk_token(local_mode, "lobby")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["kiosk"] = token
    at.run()
    assert not at.exception
    assert "Sign in to SecMLOps Studio" not in [t.value for t in at.title]


def test_bad_kiosk_token_is_refused(local_mode):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["kiosk"] = "forged"
    at.run()
    assert "not valid" in at.error[0].value

