"""Shared set-up for AppTest page tests: a fresh app bootstrap, one page run, no exception."""

from streamlit.testing.v1 import AppTest

from secmlops_core.store import Store, get_store
from tests.conftest import REPO_ROOT


def run_page(name: str, timeout: int = 60) -> AppTest:
    """Run pages/<name> once on a freshly bootstrapped app and fail on any exception."""
    import secmlops_core.ui.shell as shell

    shell._bootstrap.clear()
    at = AppTest.from_file(str(REPO_ROOT / "pages" / name), default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    return at


def home_store(home) -> Store:
    """The store the app uses under SECMLOPS_HOME=home."""
    return get_store(home / "secmlops.duckdb")
