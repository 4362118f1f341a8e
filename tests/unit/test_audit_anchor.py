"""The audit trail's head is signed outside the table: cutting off the newest entries, deleting
the whole trail, or editing an entry and recomputing every hash after it is detected."""

import pytest

from secmlops_core.access import audit
from secmlops_core.cli import main


@pytest.fixture()
def trail(store):
    for index in range(6):
        audit.record_event(store, "test.event", f"subject-{index}", before={"i": index}, after={"i": index + 1})
    assert audit.verify_chain(store).ok
    return store


def test_removing_the_newest_entries_is_detected(trail):
    with trail.connect() as conn:
        conn.execute("DELETE FROM audit_log WHERE seq >= 5")
    check = audit.verify_chain(trail)
    assert not check.ok and check.first_bad_seq == 5
    assert "newest 2 entries were removed" in check.problem


def test_emptying_the_trail_is_detected(trail):
    with trail.connect() as conn:
        conn.execute("DELETE FROM audit_log")
    assert not audit.verify_chain(trail).ok


def test_a_recomputed_chain_is_detected(trail):
    """Edit entry 3, then recompute its hash and every later link so the chain itself fits."""
    with trail.connect() as conn:
        rows = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        previous = audit.GENESIS_HASH
        for row in rows:
            entry = audit.AuditEntry(*row)
            after = '{"i": 99}' if entry.seq == 3 else entry.after
            digest = audit.entry_hash(entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.before,
                                      after, previous)
            conn.execute("UPDATE audit_log SET after = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                         [after, previous, digest, entry.seq])
            previous = digest
    check = audit.verify_chain(trail)
    assert not check.ok and "recomputed" in check.problem


def test_a_head_rewritten_without_the_key_is_detected(trail):
    with trail.connect() as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = 6")
        seq, digest = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ?", [seq, digest, "0" * 64])
    check = audit.verify_chain(trail)
    assert not check.ok and "valid signature" in check.problem


def test_deleting_the_signed_head_is_detected(trail):
    with trail.connect() as conn:
        conn.execute("DELETE FROM audit_head")
    check = audit.verify_chain(trail)
    assert not check.ok and "head" in check.problem


def test_the_key_lives_outside_the_store_and_only_its_owner_reads_it(trail):
    path = audit.key_path(trail.path)
    assert path.is_file() and path != trail.path
    assert path.stat().st_mode & 0o077 == 0


def test_cli_verify_fails_on_truncation(trail, capsys):
    assert main(["audit", "verify"]) == 0
    with trail.connect() as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = 6")
    assert main(["audit", "verify"]) == 1
    assert "removed" in capsys.readouterr().err
