"""The sign-in gate: none (local default), local accounts, OIDC via st.login, kiosk tokens."""

from __future__ import annotations

import streamlit as st

from secmlops_core.access import audit, users
from secmlops_core.access.policy import LOCAL_OPERATOR, Principal
from secmlops_core.errors import UserFacingError
from secmlops_core.store import Store, get_store
from secmlops_core.ui.shell import EXPIRED_KEY, forget_principal, remember_principal, session_principal, settings
from secmlops_core.ui.text import escape_markdown

KIOSK_ERROR_KEY = "auth:kiosk_error"


def _store() -> Store:
    return get_store(settings().store_path)


def sign_out() -> None:
    """Forget the signed-in principal of this browser session."""
    forget_principal()


def _kiosk_from_query() -> Principal | None:
    token = st.query_params.get("kiosk")
    if not token:
        return None
    try:
        return remember_principal(users.kiosk_principal(_store(), token), kiosk_token=token)
    except UserFacingError as exc:
        st.session_state[KIOSK_ERROR_KEY] = str(exc)
        return None


def _client_address() -> str:
    """The browser's address as the server sees it (sign-in throttling counts per source)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else ""


def _local_form() -> None:
    st.title("Sign in to SecMLOps Studio")
    with st.form("sign_in"):
        username = st.text_input("Username", max_chars=120)
        password = st.text_input("Password", type="password", max_chars=1000)
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            remember_principal(users.authenticate(_store(), username.strip(), password, source=_client_address()))
        except UserFacingError as exc:
            st.error(escape_markdown(str(exc)))
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
    return remember_principal(account.principal("oidc"))


def _oidc_form() -> None:
    st.title("Sign in to SecMLOps Studio")
    if st.user.is_logged_in:
        email = str(st.user.get("email") or "this identity")
        st.error(f"{escape_markdown(email)} has no SecMLOps account; ask an administrator to run "
                 "`secmlops users add EMAIL --oidc --role ROLE`.")
        st.button("Sign out", on_click=st.logout)
    else:
        st.button("Sign in with your organisation", type="primary", on_click=st.login)


def resolve_principal() -> Principal | None:
    """Who is acting in this run, or None when nobody is signed in yet. Renders nothing."""
    st.session_state.pop(KIOSK_ERROR_KEY, None)
    principal = session_principal() or _kiosk_from_query()
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
        st.error(escape_markdown(kiosk_error))
        return
    # Kept until the next sign-in: several self-refreshing parts of a page may each rerun the app
    # once they find the session gone, and the message must survive every one of those reruns.
    if st.session_state.get(EXPIRED_KEY, False):
        st.warning("Your session has expired; please sign in again.")
    if settings().auth_mode == "oidc":
        _oidc_form()
    else:
        _local_form()


def sidebar_identity(principal: Principal) -> None:
    """Who is signed in, with a sign-out button (nothing on the local default)."""
    if principal.auth_method == "none":
        return
    st.sidebar.caption(f"Signed in as {escape_markdown(principal.label)} · {', '.join(sorted(principal.roles))}")
    if principal.auth_method == "kiosk":
        return
    if st.sidebar.button("Sign out", key="sign_out"):
        audit.record_event(_store(), "sign_out", principal.username, actor=principal.username)
        sign_out()
        if principal.auth_method == "oidc":
            st.logout()
        st.rerun()
