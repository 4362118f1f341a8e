"""App start-up: settings validation and process-wide resources."""

from __future__ import annotations

import streamlit as st

from secmlops_core.settings import Settings, SettingsError, get_settings
from secmlops_core.store import Store, get_store


def start_app() -> bool:
    """Load settings and the store once per process; False when the configuration is invalid."""
    try:
        _bootstrap()
    except SettingsError:
        return False
    return True


@st.cache_resource(show_spinner=False)
def _bootstrap() -> Settings:
    settings = get_settings()
    from secmlops_core.pipeline.library import ensure_default_pipelines

    ensure_default_pipelines(get_store(settings.store_path))
    return settings


def render_settings_error() -> None:
    """Show every configuration problem, one per line, and nothing else."""
    try:
        get_settings()
    except SettingsError as exc:
        st.error("SecMLOps Studio cannot start: the configuration is invalid.")
        for problem in exc.problems:
            st.markdown(f"- {problem}", unsafe_allow_html=False)


def settings() -> Settings:
    """The validated settings (only after ``start_app`` returned True)."""
    return _bootstrap()


def store() -> Store:
    """The process-wide store."""
    return get_store(settings().store_path)
