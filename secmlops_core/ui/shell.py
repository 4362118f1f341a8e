"""App start-up: settings validation and process-wide resources."""

from __future__ import annotations

import streamlit as st

from secmlops_core.access.policy import (
    ANONYMOUS,
    LOCAL_OPERATOR,
    PermissionDenied,
    Principal,
    can,
    current_principal,
    set_principal,
)
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
        st.code("\n".join(exc.problems), language=None)


def settings() -> Settings:
    """The validated settings (only after ``start_app`` returned True)."""
    return _bootstrap()


def store() -> Store:
    """The process-wide store, for the principal acting in this run (refused to nobody)."""
    acting_principal()
    return get_store(settings().store_path)


def page_guard(permission: str = "view") -> Principal:
    """First call of every page: the acting principal, or a stop when nobody signed in or the
    principal lacks ``permission``."""
    try:
        principal = acting_principal()
    except PermissionDenied:
        st.warning("Please sign in: open the app's start page.")
        st.stop()
    if not can(permission, principal=principal):
        st.warning("Your role does not give access to this page.")
        st.stop()
    return principal


def acting_principal() -> Principal:
    """The principal of this run. With sign-in off (the local default) that is the local
    operator; with sign-in on, a run that did not pass the gate is refused."""
    principal = current_principal()
    if principal is ANONYMOUS:
        if settings().auth_mode != "none":
            raise PermissionDenied("Sign in first.")
        set_principal(LOCAL_OPERATOR)
        principal = LOCAL_OPERATOR
    return principal
