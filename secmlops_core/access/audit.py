"""The audit trail: every change, who made it, before and after, in a SHA-256 hash chain.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
removing or reordering any entry breaks the chain from that entry on; ``verify_chain``
names the first entry that no longer fits. The chain's head (newest sequence number and
hash) is kept in ``audit_head`` with an HMAC-SHA256 under a key stored outside the store
file, written in the same transaction as each entry: cutting off the newest entries, or
editing an entry and recomputing every hash after it, leaves a head that no longer fits,
and a new head cannot be signed without the key.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from secmlops_core.access.policy import current_principal, require
from secmlops_core.settings import SettingsError, get_settings
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

GENESIS_HASH = "0" * 64
KEY_SUFFIX = ".audit-key"


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


_ENTRY_ROWS = row_mapper(AuditEntry, sql={"at": "recorded_at"})


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


def key_path(store_file: Path | str) -> Path:
    """Where the head-signing key of the store at ``store_file`` lives."""
    try:
        configured = get_settings().audit_key_file
    except SettingsError:
        configured = None
    return Path(configured) if configured else Path(f"{store_file}{KEY_SUFFIX}")


def _read_key(path: Path) -> bytes | None:
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"the audit key {path} cannot be read ({exc})") from None


_writing_keys: dict[Path, bytes] = {}


def _key_for_writing(path: Path) -> bytes:
    """The key, made on first use (readable by this account only); read once per process."""
    if path in _writing_keys:
        return _writing_keys[path]
    key = _read_key(path) or _create_key(path)
    _writing_keys[path] = key
    return key


def _create_key(path: Path) -> bytes:
    """A new random key in a file only this account may read (or the one another process just made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
    return _read_key(path)


def _head_mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"{seq}:{digest}".encode("ascii"), hashlib.sha256).hexdigest()


def _store_file(conn) -> str:
    (path,) = conn.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return path


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
    key = _key_for_writing(key_path(_store_file(conn)))
    conn.execute("INSERT OR REPLACE INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?)",
                 [seq, digest, _head_mac(key, seq, digest)])
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
            rows = conn.execute(f"SELECT * FROM (SELECT {_ENTRY_ROWS.columns} FROM audit_log {where} ORDER BY seq "
                                "DESC LIMIT ?) ORDER BY seq", [*params, int(limit)]).fetchall()
        else:
            rows = conn.execute(f"SELECT {_ENTRY_ROWS.columns} FROM audit_log {where} ORDER BY seq", params).fetchall()
    return _ENTRY_ROWS.all(rows)


def verify_chain(store: Store) -> ChainCheck:
    """Recompute every hash and link, then check the chain's end against the signed head;
    report the first entry that does not fit."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_ENTRY_ROWS.columns} FROM audit_log ORDER BY seq").fetchall()
        head = conn.execute("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetchone()
    chain = _ENTRY_ROWS.all(rows)
    links = _check_links(chain)
    if not links.ok:
        return links
    return _check_head(chain, head, key_path(store.path))


def _check_head(rows: list[AuditEntry], head, path: Path) -> ChainCheck:
    key = _read_key(path)
    last_seq, last_hash = (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS_HASH)
    if head is None:
        if key is None:  # a trail written before heads were signed: nothing to compare yet
            return ChainCheck(True, len(rows))
        return ChainCheck(False, len(rows), last_seq or None, "the signed head of the trail is missing "
                          "(it was deleted)")
    seq, digest, mac = head
    if key is None:
        return ChainCheck(False, len(rows), None, f"the key that signs the trail's head ({path}) is missing")
    if not hmac.compare_digest(mac, _head_mac(key, seq, digest)):
        return ChainCheck(False, len(rows), seq, "the trail's head does not carry a valid signature "
                          "(it was written without the key)")
    if seq > last_seq:
        return ChainCheck(False, len(rows), last_seq + 1, f"the newest {seq - last_seq} entr"
                          f"{'y was' if seq - last_seq == 1 else 'ies were'} removed (the signed head "
                          f"is entry {seq}, the trail ends at {last_seq})")
    if seq < last_seq:
        return ChainCheck(False, len(rows), seq + 1, f"entries after {seq} were added without the key "
                          "(the signed head is older than the trail)")
    if digest != last_hash:
        return ChainCheck(False, len(rows), seq, "the chain was recomputed: its newest hash is not the "
                          "signed head's")
    return ChainCheck(True, len(rows))


def _check_links(rows: list[AuditEntry]) -> ChainCheck:
    previous = GENESIS_HASH
    for index, entry in enumerate(rows, start=1):
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
