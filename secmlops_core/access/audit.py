"""The audit trail: every change, who made it, before and after, in a SHA-256 hash chain.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
removing or reordering any entry breaks the chain from that entry on; ``verify_chain``
names the first entry that no longer fits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from secmlops_core.access.policy import current_principal, require
from secmlops_core.store import Store

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """Result of verifying the chain."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""


def _to_json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, before: str | None,
               after: str | None, prev_hash: str) -> str:
    """The hash of an entry's fields chained to the previous hash."""
    payload = json.dumps([seq, at, actor, action, subject, before, after, prev_hash], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(conn, action: str, subject: str, before=None, after=None, actor: str | None = None) -> AuditEntry:
    """Append an entry inside the caller's transaction (so the change and its record commit together)."""
    actor = actor or current_principal().label
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
    at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    before_text, after_text = _to_json(before), _to_json(after)
    digest = entry_hash(seq, at, actor, action, subject, before_text, after_text, prev_hash)
    conn.execute("INSERT INTO audit_log (seq, recorded_at, actor, action, subject, before, after, prev_hash, hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [seq, at, actor, action, subject, before_text, after_text, prev_hash, digest])
    return AuditEntry(seq, at, actor, action, subject, before_text, after_text, prev_hash, digest)


def record_event(store: Store, action: str, subject: str, before=None, after=None,
                 actor: str | None = None) -> AuditEntry:
    """Append an entry in its own unit of work (for events that change nothing else)."""
    with store.connect() as conn:
        return record(conn, action, subject, before, after, actor)


def entries(store: Store, limit: int | None = None, action: str | None = None,
            actor: str | None = None) -> list[AuditEntry]:
    """Entries oldest first (the newest ``limit`` when given), optionally filtered."""
    clauses, params = [], []
    if action:
        clauses.append("action = ?")
        params.append(action)
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with store.connect() as conn:
        if limit:
            rows = conn.execute(f"SELECT * FROM (SELECT * FROM audit_log {where} ORDER BY seq DESC LIMIT ?) "
                                "ORDER BY seq", [*params, int(limit)]).fetchall()
        else:
            rows = conn.execute(f"SELECT * FROM audit_log {where} ORDER BY seq", params).fetchall()
    return [AuditEntry(*row) for row in rows]


def verify_chain(store: Store) -> ChainCheck:
    """Recompute every hash and link; report the first entry that does not fit."""
    with store.connect() as conn:
        rows = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    previous = GENESIS_HASH
    for index, row in enumerate(rows, start=1):
        entry = AuditEntry(*row)
        if entry.seq != index:
            return ChainCheck(False, len(rows), entry.seq, f"entry {entry.seq}: expected sequence number {index}"
                              " (an entry was removed or inserted)")
        if entry.prev_hash != previous:
            return ChainCheck(False, len(rows), entry.seq, f"entry {entry.seq}: does not link to entry {index - 1}")
        expected = entry_hash(entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.before,
                              entry.after, entry.prev_hash)
        if entry.hash != expected:
            return ChainCheck(False, len(rows), entry.seq, f"entry {entry.seq}: content does not match its hash"
                              " (it was modified)")
        previous = entry.hash
    return ChainCheck(True, len(rows))


def export(store: Store, fmt: str = "json") -> str:
    """The whole trail as JSON or CSV (requires permission to view the audit trail)."""
    require("view_audit")
    rows = [asdict(entry) for entry in entries(store)]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AuditEntry.__dataclass_fields__))
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def spreadsheet_safe(value):
    """Text that a spreadsheet will not run as a formula (a leading = + - @ is quoted)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
