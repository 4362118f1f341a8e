"""The sign-in gate: none (local default), local accounts, OIDC via st.login, kiosk tokens."""

from __future__ import annotations

import time

import streamlit as st

from secmlops_core.access import audit, users
from secmlops_core.access.policy import LOCAL_OPERATOR, Principal
from secmlops_core.errors import UserFacingError
from secmlops_core.store import Store, get_store
from secmlops_core.ui.shell import settings

PRINCIPAL_KEY = "auth:principal"
KIOSK_ERROR_KEY = "auth:kiosk_error"
SIGNED_IN_AT_KEY = "auth:signed_in_at"
KIOSK_TOKEN_KEY = "auth:kiosk_token"
CHECKED_AT_KEY = "auth:checked_at"
# A remembered sign-in is checked against the store this often: a removed account, changed
# roles or a revoked kiosk token take effect within this many seconds.
RECHECK_SECONDS = 30.0


def _store() -> Store:
    return get_store(settings().store_path)


def _remember(principal: Principal, kiosk_token: str | None = None) -> Principal:
    st.session_state[PRINCIPAL_KEY] = principal
    st.session_state[SIGNED_IN_AT_KEY] = st.session_state[CHECKED_AT_KEY] = time.time()
    if kiosk_token:
        st.session_state[KIOSK_TOKEN_KEY] = kiosk_token
    return principal


def _as_stored_now(principal: Principal) -> Principal | None:
    """The principal as the store sees it now: None when the account or token is gone."""
    if principal.auth_method == "kiosk":
        try:
            return users.kiosk_principal(_store(), st.session_state.get(KIOSK_TOKEN_KEY, ""))
        except UserFacingError:
            return None
    account = users.get_user(_store(), principal.username)
    if account is None or account.disabled:
        return None
    return account.principal(principal.auth_method)


def _session_principal() -> Principal | None:
    principal = st.session_state.get(PRINCIPAL_KEY)
    if principal is None:
        return None
    if principal.auth_method != "kiosk":
        age_minutes = (time.time() - st.session_state.get(SIGNED_IN_AT_KEY, 0)) / 60
        if age_minutes > settings().session_timeout_minutes:
            sign_out()
            st.warning("Your session has expired; please sign in again.")
            return None
    if time.time() - st.session_state.get(CHECKED_AT_KEY, 0) >= RECHECK_SECONDS:
        current = _as_stored_now(principal)
        if current is None:
            sign_out()
            return None
        st.session_state[PRINCIPAL_KEY] = principal = current
        st.session_state[CHECKED_AT_KEY] = time.time()
    return principal


def ensure_still_signed_in() -> None:
    """For fragments that refresh on their own (the wall): once the sign-in is no longer valid,
    rerun the whole app so the gate takes over."""
    if st.session_state.get(PRINCIPAL_KEY) is not None and _session_principal() is None:
        st.rerun(scope="app")


def sign_out() -> None:
    """Forget the signed-in principal of this browser session."""
    for key in (PRINCIPAL_KEY, SIGNED_IN_AT_KEY, CHECKED_AT_KEY, KIOSK_TOKEN_KEY):
        st.session_state.pop(key, None)


def _kiosk_from_query() -> Principal | None:
    token = st.query_params.get("kiosk")
    if not token:
        return None
    try:
        return _remember(users.kiosk_principal(_store(), token), kiosk_token=token)
    except UserFacingError as exc:
        st.session_state[KIOSK_ERROR_KEY] = str(exc)
        return None


def _local_form() -> None:
    st.title("Sign in to SecMLOps Studio")
    with st.form("sign_in"):
        username = st.text_input("Username", max_chars=120)
        password = st.text_input("Password", type="password", max_chars=1000)
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            _remember(users.authenticate(_store(), username.strip(), password))
        except UserFacingError as exc:
            st.error(str(exc))
        else:
            st.rerun()


def _oidc_principal() -> Principal | None:
    """The signed-in OIDC identity's account, once st.login has completed."""
    if not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or "")
    account = users.get_user(_store(), email) if email else None
    if account is None or account.disabled:
        return None
    audit.record_event(_store(), "sign_in", email, after={"method": "oidc"}, actor=email)
    return _remember(account.principal("oidc"))


def _oidc_form() -> None:
    st.title("Sign in to SecMLOps Studio")
    if st.user.is_logged_in:
        email = str(st.user.get("email") or "this identity")
        st.error(f"{email} has no SecMLOps account; ask an administrator to run "
                 "`secmlops users add EMAIL --oidc --role ROLE`.")
        st.button("Sign out", on_click=st.logout)
    else:
        st.button("Sign in with your organisation", type="primary", on_click=st.login)


def resolve_principal() -> Principal | None:
    """Who is acting in this run, or None when nobody is signed in yet. Renders nothing."""
    st.session_state.pop(KIOSK_ERROR_KEY, None)
    principal = _session_principal() or _kiosk_from_query()
    if principal is not None:
        return principal
    mode = settings().auth_mode
    if mode == "none":
        return LOCAL_OPERATOR
    return _oidc_principal() if mode == "oidc" else None


def sign_in_page() -> None:
    """The only page shown before sign-in: the form, or why a kiosk link was refused."""
    kiosk_error = st.session_state.get(KIOSK_ERROR_KEY)
    if kiosk_error:
        st.error(kiosk_error)
        return
    if settings().auth_mode == "oidc":
        _oidc_form()
    else:
        _local_form()


def sidebar_identity(principal: Principal) -> None:
    """Who is signed in, with a sign-out button (nothing on the local default)."""
    if principal.auth_method == "none":
        return
    st.sidebar.caption(f"Signed in as {principal.label} · {', '.join(sorted(principal.roles))}")
    if principal.auth_method == "kiosk":
        return
    if st.sidebar.button("Sign out", key="sign_out"):
        audit.record_event(_store(), "sign_out", principal.username, actor=principal.username)
        sign_out()
        if principal.auth_method == "oidc":
            st.logout()
        st.rerun()
