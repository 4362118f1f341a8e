"""Local accounts for offline workshops, kiosk tokens for wall screens, and sign-in checks.

Passwords are hashed with Argon2id (argon2-cffi, salted, memory-hard). Failed sign-ins are
throttled per account and source. OIDC users (``st.login``) are looked up here by e-mail for their roles.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from secmlops_core.access import audit
from secmlops_core.access.policy import Principal, require, role_ids
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@+-]{1,120}$")
MIN_PASSWORD_CHARS = 10
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
KIOSK_ROLE = "viewer"
_hasher = PasswordHasher()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class SignInFailed(UserFacingError):
    """Wrong credentials, a disabled account, or too many attempts."""


@dataclass(frozen=True)
class UserAccount:
    """A stored account (never carries the password hash out of this module)."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    pipelines: tuple[str, ...] | None
    disabled: bool
    has_password: bool
    created_at: datetime

    def principal(self, auth_method: str) -> Principal:
        """The principal this account acts as."""
        return Principal(self.username, frozenset(self.roles), self.display_name, auth_method,
                         frozenset(self.pipelines) if self.pipelines is not None else None)


def _check(username: str, roles: list[str], password: str | None) -> None:
    problems = []
    if not USERNAME_PATTERN.match(username or ""):
        problems.append("username must be 1-120 letters, digits or _ . @ + -")
    unknown = [r for r in roles if r not in role_ids()]
    if not roles:
        problems.append(f"give at least one role ({', '.join(role_ids())})")
    if unknown:
        problems.append(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(role_ids())}")
    if password is not None and len(password) < MIN_PASSWORD_CHARS:
        problems.append(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if problems:
        raise ValidationFailed(problems, "account")


def _names(text: str | None) -> tuple[str, ...] | None:
    """A comma-separated column as a tuple of names (NULL stays None)."""
    return None if text is None else tuple(name for name in text.split(",") if name)


# has_password reads the hash column only to turn it into a bool.
_ACCOUNT_ROWS = row_mapper(UserAccount, sql={"has_password": "password_hash"},
                           decode={"roles": _names, "pipelines": _names, "disabled": bool, "has_password": bool})


def add_user(store: Store, username: str, roles: list[str], password: str | None = None,
             display_name: str = "", pipelines: list[str] | None = None) -> UserAccount:
    """Create an account (password None: an OIDC user identified by e-mail)."""
    require("manage_users")
    _check(username, roles, password)
    password_hash = _hasher.hash(password) if password is not None else None
    with store.connect() as conn:
        if conn.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise UserFacingError(f"account {username!r} already exists")
        conn.execute("INSERT INTO users (username, display_name, password_hash, roles, pipelines) "
                     "VALUES (?, ?, ?, ?, ?)",
                     [username, display_name, password_hash, ",".join(roles),
                      ",".join(pipelines) if pipelines is not None else None])
        audit.record(conn, "user.add", username, None,
                     {"roles": roles, "pipelines": pipelines, "password": password is not None})
    return get_user(store, username)


def remove_user(store: Store, username: str) -> None:
    """Delete an account."""
    require("manage_users")
    with store.connect() as conn:
        row = conn.execute("SELECT roles FROM users WHERE username = ?", [username]).fetchone()
        if row is None:
            raise UserFacingError(f"no account {username!r}")
        conn.execute("DELETE FROM users WHERE username = ?", [username])
        audit.record(conn, "user.remove", username, {"roles": row[0].split(",")}, None)


def get_user(store: Store, username: str) -> UserAccount | None:
    """One account, or None."""
    with store.connect() as conn:
        return _ACCOUNT_ROWS.by_key(conn, "users", "username", username)


def list_users(store: Store) -> list[UserAccount]:
    """Every account, by name."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_ACCOUNT_ROWS.columns} FROM users ORDER BY username").fetchall()
    return _ACCOUNT_ROWS.all(rows)


def _reserve_attempt(store: Store, username: str, source: str) -> bool:
    """One atomic step: count the recent failures of this account from this source and, when
    under the limit, record this attempt as a failure until it succeeds. False when throttled.

    Counting and recording in one unit of work (the store serialises units of work across
    threads and processes) means concurrent guesses cannot all pass the count before any is
    recorded."""
    with store.connect() as conn:
        (failures,) = conn.execute("SELECT count(*) FROM sign_in_failures WHERE username = ? AND source = ? "
                                   "AND failed_at > ?", [username, source, _utc_now() - FAILURE_WINDOW]).fetchone()
        if failures >= MAX_FAILURES:
            return False
        conn.execute("INSERT INTO sign_in_failures (username, source, failed_at) VALUES (?, ?, ?)",
                     [username, source, _utc_now()])
    return True


def authenticate(store: Store, username: str, password: str, source: str = "") -> Principal:
    """Check a local password; raises SignInFailed with one message for every kind of failure.

    At most ``MAX_FAILURES`` failed attempts per account and source (the client address) are
    checked within ``FAILURE_WINDOW``; further ones are refused unchecked and audited.
    """
    generic = SignInFailed("Wrong username or password.")
    source = (source or "")[:120]
    if not _reserve_attempt(store, username, source):
        audit.record_event(store, "sign_in.throttled", username, after={"source": source}, actor=username)
        raise SignInFailed(f"Too many failed attempts; try again in {FAILURE_WINDOW.seconds // 60} minutes.")
    with store.connect() as conn:
        row = conn.execute(f"SELECT password_hash, {_ACCOUNT_ROWS.columns} FROM users WHERE username = ?",
                           [username]).fetchone()
    stored_hash = row[0] if row else None
    try:
        if not stored_hash:
            _hasher.verify(_DUMMY_HASH, password)  # same cost whether or not the account exists
            raise VerifyMismatchError()
        _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        audit.record_event(store, "sign_in.failed", username, after={"source": source}, actor=username)
        raise generic from None
    account = _ACCOUNT_ROWS(row[1:])
    if account.disabled:
        raise generic
    with store.connect() as conn:
        conn.execute("DELETE FROM sign_in_failures WHERE username = ? AND source = ?", [username, source])
        if _hasher.check_needs_rehash(stored_hash):
            conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", [_hasher.hash(password), username])
        audit.record(conn, "sign_in", username, actor=username, after={"method": "password", "source": source})
    return account.principal("password")


def clear_sign_in_failures(store: Store, username: str, source: str | None = None) -> int:
    """Lift the throttle of an account (from one source, or from all); returns the failures cleared."""
    require("manage_users")
    clause, params = ("AND source = ?", [source]) if source is not None else ("", [])
    with store.connect() as conn:
        (count,) = conn.execute(f"SELECT count(*) FROM sign_in_failures WHERE username = ? {clause}",
                                [username, *params]).fetchone()
        conn.execute(f"DELETE FROM sign_in_failures WHERE username = ? {clause}", [username, *params])
        audit.record(conn, "sign_in.unlock", username, after={"source": source, "cleared": count})
    return count


_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def create_kiosk_token(store: Store, label: str) -> str:
    """A new read-only token for a wall screen; only its hash is stored. Returns the token."""
    require("manage_users")
    token = secrets.token_urlsafe(24)
    with store.connect() as conn:
        conn.execute("INSERT INTO kiosk_tokens (token_hash, label) VALUES (?, ?)",
                     [hashlib.sha256(token.encode()).hexdigest(), label[:120]])
        audit.record(conn, "kiosk_token.create", label[:120])
    return token


def kiosk_principal(store: Store, token: str) -> Principal:
    """The viewer principal of a valid kiosk token; SignInFailed otherwise."""
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    with store.connect() as conn:
        row = conn.execute("SELECT label FROM kiosk_tokens WHERE token_hash = ? AND NOT revoked", [digest]).fetchone()
    if row is None:
        raise SignInFailed("This kiosk link is not valid (unknown or revoked token).")
    return Principal(f"kiosk:{row[0]}", frozenset({KIOSK_ROLE}), f"Kiosk {row[0]}", "kiosk")


def revoke_kiosk_tokens(store: Store, label: str) -> int:
    """Revoke every token with this label; returns how many."""
    require("manage_users")
    with store.connect() as conn:
        (count,) = conn.execute("SELECT count(*) FROM kiosk_tokens WHERE label = ? AND NOT revoked", [label]).fetchone()
        conn.execute("UPDATE kiosk_tokens SET revoked = true WHERE label = ?", [label])
        audit.record(conn, "kiosk_token.revoke", label, after={"revoked": count})
    return count
