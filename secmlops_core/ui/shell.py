"""App start-up: settings validation, process-wide resources, and who acts in each run.

Streamlit runs each script run, fragment reruns and widget callbacks included, with a fresh
context, so the acting principal is re-established from the browser session on every run
(``acting_principal``), and the session's timeout and store re-check apply to every run too.
"""

from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from secmlops_core.access import users
from secmlops_core.access.policy import (
    ANONYMOUS,
    LOCAL_OPERATOR,
    PermissionDenied,
    Principal,
    can,
    current_principal,
    set_principal,
)
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, SettingsError, get_settings
from secmlops_core.store import Store, get_store
from secmlops_core.ui.navigation import page_for

PRINCIPAL_KEY = "auth:principal"
SIGNED_IN_AT_KEY = "auth:signed_in_at"
KIOSK_TOKEN_KEY = "auth:kiosk_token"
CHECKED_AT_KEY = "auth:checked_at"
EXPIRED_KEY = "auth:expired"
# A remembered sign-in is checked against the store this often: a removed account, changed
# roles or a revoked kiosk token take effect within this many seconds.
RECHECK_SECONDS = 30.0


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

    from secmlops_core.jobs import get_job_manager

    ensure_default_pipelines(get_store(settings.store_path))
    get_job_manager(get_store(settings.store_path)).recover_interrupted()  # jobs of an app that was killed
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


def page_guard(page_file: str) -> Principal:
    """First call of every page (``page_guard(__file__)``): the acting principal, or a stop when
    nobody signed in or the principal lacks the permission the page's navigation entry names."""
    permission = page_for(page_file).permission
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
    operator; with sign-in on, the browser session's signed-in principal (re-established for
    fragment reruns and callbacks, which do not pass through the gate); refused to nobody."""
    principal = current_principal()
    if principal is ANONYMOUS:
        principal = LOCAL_OPERATOR if settings().auth_mode == "none" else session_principal()
        if principal is None:
            raise PermissionDenied("Sign in first.")
        set_principal(principal)
    return principal


def remember_principal(principal: Principal, kiosk_token: str | None = None) -> Principal:
    """Keep a principal that has just signed in for the rest of this browser session."""
    st.session_state[PRINCIPAL_KEY] = principal
    st.session_state[SIGNED_IN_AT_KEY] = st.session_state[CHECKED_AT_KEY] = time.time()
    st.session_state.pop(EXPIRED_KEY, None)
    if kiosk_token:
        st.session_state[KIOSK_TOKEN_KEY] = kiosk_token
    return principal


def forget_principal() -> None:
    """Forget the signed-in principal of this browser session."""
    for key in (PRINCIPAL_KEY, SIGNED_IN_AT_KEY, CHECKED_AT_KEY, KIOSK_TOKEN_KEY):
        st.session_state.pop(key, None)


def _as_stored_now(principal: Principal) -> Principal | None:
    """The principal as the store sees it now: None when the account or token is gone."""
    store_now = get_store(settings().store_path)
    if principal.auth_method == "kiosk":
        try:
            return users.kiosk_principal(store_now, st.session_state.get(KIOSK_TOKEN_KEY, ""))
        except UserFacingError:
            return None
    account = users.get_user(store_now, principal.username)
    if account is None or account.disabled:
        return None
    return account.principal(principal.auth_method)


def session_principal() -> Principal | None:
    """The browser session's signed-in principal, or None once it has expired (the session
    timeout; kiosk screens have none) or the store no longer knows it."""
    principal = st.session_state.get(PRINCIPAL_KEY)
    if principal is None:
        return None
    if principal.auth_method != "kiosk":
        age_minutes = (time.time() - st.session_state.get(SIGNED_IN_AT_KEY, 0)) / 60
        if age_minutes > settings().session_timeout_minutes:
            forget_principal()
            st.session_state[EXPIRED_KEY] = True
            return None
    if time.time() - st.session_state.get(CHECKED_AT_KEY, 0) >= RECHECK_SECONDS:
        current = _as_stored_now(principal)
        if current is None:
            forget_principal()
            return None
        st.session_state[PRINCIPAL_KEY] = principal = current
        st.session_state[CHECKED_AT_KEY] = time.time()
    return principal


def signed_in_fragment(run_every: float | None = None) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """``st.fragment`` for parts of a page that refresh on their own: each rerun first
    re-establishes the acting principal (timeout and store re-check included); once the sign-in
    is no longer valid the whole app reruns, so the gate takes over instead of the fragment."""
    def decorate(body: Callable[[], None]) -> Callable[[], None]:
        @st.fragment(run_every=run_every)
        def guarded() -> None:
            principal = LOCAL_OPERATOR if settings().auth_mode == "none" else session_principal()
            if principal is None:
                st.rerun(scope="app")
            set_principal(principal)
            body()

        return guarded

    return decorate
