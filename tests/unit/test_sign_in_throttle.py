"""The sign-in throttle is one atomic step per attempt, audited, per account and source, and an
administrator can lift it."""

import threading

import pytest

from secmlops_core.access import audit, users
from secmlops_core.access.policy import PermissionDenied, Principal, acting_as


@pytest.fixture()
def admin_account(store):
    users.add_user(store, "root", ["admin"], "the admin's long password")
    return store


def test_concurrent_wrong_passwords_check_at_most_the_limit(admin_account, monkeypatch):
    store = admin_account
    checked = []

    class CountingHasher:
        def __init__(self, real):
            self.real = real

        def verify(self, stored_hash, password):
            checked.append(1)
            return self.real.verify(stored_hash, password)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(users, "_hasher", CountingHasher(users._hasher))
    outcomes, start = [], threading.Barrier(20)

    def guess(n: int) -> None:
        start.wait()
        try:
            users.authenticate(store, "root", f"guess number {n}")
        except users.SignInFailed as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 20
    assert len(checked) == users.MAX_FAILURES  # the rest were refused before any password check
    assert sum("Too many failed attempts" in o for o in outcomes) == 20 - users.MAX_FAILURES
    actions = [e.action for e in audit.entries(store)]
    assert actions.count("sign_in.failed") == users.MAX_FAILURES
    assert actions.count("sign_in.throttled") == 20 - users.MAX_FAILURES


def test_throttled_attempt_reaches_the_audit_trail(admin_account):
    store = admin_account
    for _ in range(users.MAX_FAILURES):
        with pytest.raises(users.SignInFailed, match="Wrong"):
            users.authenticate(store, "root", "not the password", source="198.51.100.7")
    with pytest.raises(users.SignInFailed, match="Too many failed attempts"):
        users.authenticate(store, "root", "the admin's long password", source="198.51.100.7")
    throttled = audit.entries(store, action="sign_in.throttled")
    assert len(throttled) == 1 and throttled[0].subject == "root" and "198.51.100.7" in throttled[0].after
    assert audit.verify_chain(store).ok


def test_guesses_from_one_source_do_not_lock_the_owner_out_elsewhere(admin_account):
    store = admin_account
    for _ in range(users.MAX_FAILURES + 3):
        with pytest.raises(users.SignInFailed):
            users.authenticate(store, "root", "attacker guess", source="203.0.113.66")
    principal = users.authenticate(store, "root", "the admin's long password", source="192.0.2.10")
    assert "admin" in principal.roles
    with pytest.raises(users.SignInFailed, match="Too many failed attempts"):
        users.authenticate(store, "root", "the admin's long password", source="203.0.113.66")


def test_an_administrator_clears_the_throttle(admin_account):
    store = admin_account
    for _ in range(users.MAX_FAILURES):
        with pytest.raises(users.SignInFailed):
            users.authenticate(store, "root", "attacker guess", source="203.0.113.66")
    viewer = Principal("vic", frozenset({"viewer"}), "Vic", "password")
    with acting_as(viewer), pytest.raises(PermissionDenied):
        users.clear_sign_in_failures(store, "root")
    assert users.clear_sign_in_failures(store, "root", "203.0.113.66") == users.MAX_FAILURES
    assert "admin" in users.authenticate(store, "root", "the admin's long password", source="203.0.113.66").roles
    assert audit.entries(store, action="sign_in.unlock")
