from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT


def test_app_starts_on_the_designer(secmlops_home):
    import secmlops_core.ui.shell as shell

    shell._bootstrap.clear()
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Pipeline designer"


def test_invalid_configuration_is_explained(secmlops_home, monkeypatch):
    import secmlops_core.ui.shell as shell
    from secmlops_core import settings

    monkeypatch.setenv("SECMLOPS_WALL_REFRESH_SECONDS", "-4")
    settings.get_settings.cache_clear()
    shell._bootstrap.clear()
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "configuration is invalid" in at.error[0].value
    assert "wall_refresh_seconds" in at.code[0].value
