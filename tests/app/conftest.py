"""Shared set-up for AppTest page tests: a fresh app bootstrap, one page run, no exception."""

from streamlit.testing.v1 import AppTest

from secmlops_core.store import Store, get_store
from tests.conftest import REPO_ROOT


def run_page(name: str, timeout: int = 60) -> AppTest:
    """Run pages/<name> once on a freshly bootstrapped app, with no cached answers of an earlier
    test (pages share telemetry answers across sessions), and fail on any exception."""
    import streamlit as st

    import secmlops_core.ui.shell as shell

    shell._bootstrap.clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO_ROOT / "pages" / name), default_timeout=timeout)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def home_store(home) -> Store:
    """The store the app uses under SECMLOPS_HOME=home."""
    return get_store(home / "secmlops.duckdb")
