"""The threat register in the store: status, owner, justification, ticket, due date, history.

``sync_register`` is called after every generation: new threats get a row (status open,
owner from the rule), vanished threats are marked not present (their decisions are kept
and come back if the threat reappears). A new *generation* is recorded only when the set
of present threats changed, so "new" means "appeared in the latest change".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from secmlops_core.access import audit
from secmlops_core.access.policy import require
from secmlops_core.catalog.loading import load_controls, load_roles
from secmlops_core.errors import ValidationFailed
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

STATUSES = ("open", "in_progress", "mitigated", "accepted", "transferred", "false_positive")
OPEN_STATUSES = ("open", "in_progress")
NEEDS_JUSTIFICATION = ("accepted", "transferred", "false_positive")
CONTROL_STATUSES = ("not_started", "planned", "implemented", "not_applicable")
EDITABLE_FIELDS = ("status", "justification", "owner_role", "ticket", "due_date")
MAX_JUSTIFICATION_CHARS = 2000
MAX_TICKET_CHARS = 300
_URL = re.compile(r"^https?://[^\s<>\"']+$")


@dataclass(frozen=True)
class RegisterEntry:
    """The register row of one threat."""

    threat_id: str
    rule_id: str
    element_type: str
    element_id: str
    title: str
    status: str
    justification: str
    owner_role: str
    ticket: str
    due_date: date | None
    present: bool
    first_seen_generation: int
    last_seen_generation: int
    updated_at: datetime
    updated_by: str

    @property
    def is_open(self) -> bool:
        """True while the threat still needs treatment."""
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class SyncResult:
    """What a re-generation changed in the register."""

    generation: int
    new_ids: tuple[str, ...]
    vanished_ids: tuple[str, ...]
    reappeared_ids: tuple[str, ...]
    changed: bool


@dataclass(frozen=True)
class ControlState:
    """Implementation status of one control for one pipeline."""

    control_id: str
    status: str
    note: str
    updated_at: datetime | None
    updated_by: str


@dataclass(frozen=True)
class HistoryEntry:
    """One changed field of a register row or control status."""

    subject_type: str
    subject_id: str
    field: str
    old_value: str | None
    new_value: str | None
    changed_by: str
    changed_at: datetime


# Column names below come only from these constants, never from input.
_UPDATE_FIELD_SQL = {name: f"UPDATE threat_register SET {name} = ?, updated_at = current_timestamp, updated_by = ?"
                           " WHERE pipeline_id = ? AND threat_id = ?" for name in EDITABLE_FIELDS}
_ENTRY_ROWS = row_mapper(RegisterEntry)
_CONTROL_ROWS = row_mapper(ControlState)
_HISTORY_ROWS = row_mapper(HistoryEntry)


def latest_generation(conn, pipeline_id: str) -> int:
    """The newest generation number of a pipeline (0 before the first sync)."""
    (value,) = conn.execute("SELECT coalesce(max(generation), 0) FROM threat_generations WHERE pipeline_id = ?",
                            [pipeline_id]).fetchone()
    return int(value)


def _history(conn, pipeline_id, subject_type, subject_id, field, old, new, author) -> None:
    conn.execute("INSERT INTO register_history (pipeline_id, subject_type, subject_id, field, old_value, new_value,"
                 " changed_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 [pipeline_id, subject_type, subject_id, field, None if old is None else str(old),
                  None if new is None else str(new), author])
    audit.record(conn, f"register.{subject_type}.{field}", f"{pipeline_id}/{subject_id}", old, new)


def sync_register(store: Store, pipeline_id: str, threats, pipeline_version: int | None = None,
                  author: str = "system") -> SyncResult:
    """Record a generation's threats (Threat objects) in the register; decisions are kept.
    Writing the shared register needs ``edit_threats`` on the pipeline."""
    require("edit_threats", pipeline_id)
    current = {threat.id: threat for threat in threats}
    with store.connect() as conn:
        rows = conn.execute("SELECT threat_id, present FROM threat_register WHERE pipeline_id = ?",
                            [pipeline_id]).fetchall()
        known = {threat_id: present for threat_id, present in rows}
        present_before = {threat_id for threat_id, present in known.items() if present}
        generation = latest_generation(conn, pipeline_id)
        if generation and present_before == set(current):
            return SyncResult(generation, (), (), (), False)
        generation += 1
        new_ids = sorted(set(current) - set(known))
        reappeared = sorted(threat_id for threat_id in current if known.get(threat_id) is False)
        vanished = sorted(present_before - set(current))
        if new_ids:
            conn.executemany(
                "INSERT INTO threat_register (pipeline_id, threat_id, rule_id, element_type, element_id, title,"
                " owner_role, first_seen_generation, last_seen_generation, updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[pipeline_id, t.id, t.rule.id, t.element_type, t.element_id, t.rule.title, t.rule.owner,
                  generation, generation, author] for t in (current[i] for i in new_ids)])
        if current:
            conn.execute("UPDATE threat_register SET present = TRUE, last_seen_generation = ? "
                         "WHERE pipeline_id = ? AND threat_id IN (SELECT unnest(?))",
                         [generation, pipeline_id, list(current)])
        if vanished:
            conn.execute("UPDATE threat_register SET present = FALSE "
                         "WHERE pipeline_id = ? AND threat_id IN (SELECT unnest(?))", [pipeline_id, vanished])
        for threat_id in vanished:
            _history(conn, pipeline_id, "threat", threat_id, "present", True, False, author)
        for threat_id in reappeared:
            _history(conn, pipeline_id, "threat", threat_id, "present", False, True, author)
        conn.execute("INSERT INTO threat_generations (pipeline_id, generation, pipeline_version, threat_count,"
                     " new_count, vanished_count) VALUES (?, ?, ?, ?, ?, ?)",
                     [pipeline_id, generation, pipeline_version, len(current), len(new_ids), len(vanished)])
    return SyncResult(generation, tuple(new_ids), tuple(vanished), tuple(reappeared), True)


def load_register(store: Store, pipeline_id: str) -> tuple[dict[str, RegisterEntry], int]:
    """All register rows of a pipeline by threat id, and the latest generation number."""
    require("view", pipeline_id)
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_ENTRY_ROWS.columns} FROM threat_register WHERE pipeline_id = ? "
                            "ORDER BY threat_id", [pipeline_id]).fetchall()
        generation = latest_generation(conn, pipeline_id)
    return {entry.threat_id: entry for entry in _ENTRY_ROWS.all(rows)}, generation


def _clean_change(field: str, value, where: str, problems: list[str]):
    if field == "status":
        if value not in STATUSES:
            problems.append(f"{where}: status must be one of {', '.join(STATUSES)}")
        return value
    if field == "owner_role":
        roles = load_roles()
        if value not in roles:
            problems.append(f"{where}: owner must be one of the role ids {', '.join(roles)}")
        return value
    if field in ("justification", "ticket"):
        text = "" if value is None else str(value).strip()
        limit = MAX_JUSTIFICATION_CHARS if field == "justification" else MAX_TICKET_CHARS
        if len(text) > limit:
            problems.append(f"{where}: {field} is longer than {limit} characters")
        if field == "ticket" and "://" in text and not _URL.match(text):
            problems.append(f"{where}: ticket links must be http:// or https:// addresses without spaces")
        return text
    if field == "due_date":
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            problems.append(f"{where}: due date must be a date (YYYY-MM-DD), got {str(value)[:40]!r}")
            return None
    problems.append(f"{where}: {field!r} cannot be edited (editable: {', '.join(EDITABLE_FIELDS)})")
    return value


def update_entries(store: Store, pipeline_id: str, changes: dict[str, dict], author: str | None = None) -> int:
    """Apply edits ``{threat_id: {field: value}}``; validated as a whole, recorded in the history
    and the audit trail. Needs permission to edit threats of this pipeline.

    Returns the number of fields that actually changed. Raises ValidationFailed (nothing is
    written) when any edit is invalid.
    """
    author = author or require("edit_threats", pipeline_id).label
    require("edit_threats", pipeline_id)
    problems: list[str] = []
    cleaned: dict[str, dict] = {}
    for threat_id, fields in changes.items():
        cleaned[threat_id] = {name: _clean_change(name, value, f"threat {threat_id}", problems)
                              for name, value in fields.items()}
    if problems:
        raise ValidationFailed(problems, "register update")
    changed = 0
    with store.connect() as conn:
        for threat_id, fields in cleaned.items():
            row = conn.execute(f"SELECT {_ENTRY_ROWS.columns} FROM threat_register WHERE pipeline_id = ? "
                               "AND threat_id = ?", [pipeline_id, threat_id]).fetchone()
            if row is None:
                problems.append(f"threat {threat_id}: not in the register of pipeline {pipeline_id!r}")
                continue
            entry = _ENTRY_ROWS(row)
            merged = {name: getattr(entry, name) for name in EDITABLE_FIELDS} | fields
            if merged["status"] in NEEDS_JUSTIFICATION and not merged["justification"]:
                problems.append(f"threat {threat_id}: status {merged['status']!r} needs a justification")
                continue
            for name, value in fields.items():
                old = getattr(entry, name)
                if value == old:
                    continue
                conn.execute(_UPDATE_FIELD_SQL[name], [value, author, pipeline_id, threat_id])
                _history(conn, pipeline_id, "threat", threat_id, name, old, value, author)
                changed += 1
        if problems:
            raise ValidationFailed(problems, "register update")
    return changed


def control_states(store: Store, pipeline_id: str) -> dict[str, ControlState]:
    """Status of every catalog control for a pipeline (``not_started`` when never set)."""
    require("view", pipeline_id)
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_CONTROL_ROWS.columns} FROM control_status WHERE pipeline_id = ?",
                            [pipeline_id]).fetchall()
    stored = {state.control_id: state for state in _CONTROL_ROWS.all(rows)}
    return {control_id: stored.get(control_id, ControlState(control_id, "not_started", "", None, ""))
            for control_id in load_controls()}


def set_control_states(store: Store, pipeline_id: str, changes: dict[str, dict], author: str | None = None, *,
                       permission: str = "edit_threats", also_record=None) -> int:
    """Apply ``{control_id: {"status": ..., "note": ...}}``; returns the number of changed fields.

    Needs ``permission`` for this pipeline (the governance workspace passes its own); every
    change is in the register history and the audit trail, and ``also_record(conn, control_id,
    before, after)`` may add a record of its own in the same transaction.
    """
    author = author or require(permission, pipeline_id).label
    require(permission, pipeline_id)
    controls = load_controls()
    problems = []
    for control_id, fields in changes.items():
        if control_id not in controls:
            problems.append(f"unknown control {control_id!r}")
        if set(fields) - {"status", "note"}:
            problems.append(f"control {control_id}: only status and note can be set")
        if "status" in fields and fields["status"] not in CONTROL_STATUSES:
            problems.append(f"control {control_id}: status must be one of {', '.join(CONTROL_STATUSES)}")
        if len(str(fields.get("note") or "")) > MAX_JUSTIFICATION_CHARS:
            problems.append(f"control {control_id}: note is longer than {MAX_JUSTIFICATION_CHARS} characters")
    if problems:
        raise ValidationFailed(problems, "control status update")
    current = control_states(store, pipeline_id)
    changed = 0
    with store.connect() as conn:
        for control_id, fields in changes.items():
            before = current[control_id]
            status = fields.get("status", before.status)
            note = str(fields.get("note", before.note) or "").strip()
            if (status, note) == (before.status, before.note):
                continue
            conn.execute("INSERT INTO control_status (pipeline_id, control_id, status, note, updated_by)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, control_id) DO UPDATE SET"
                         " status = excluded.status, note = excluded.note, updated_at = now(),"
                         " updated_by = excluded.updated_by", [pipeline_id, control_id, status, note, author])
            for name, old, new in (("status", before.status, status), ("note", before.note, note)):
                if old != new:
                    _history(conn, pipeline_id, "control", control_id, name, old, new, author)
                    changed += 1
            if also_record is not None:
                also_record(conn, control_id, {"status": before.status, "note": before.note},
                            {"status": status, "note": note})
    return changed


def implemented_controls(states: dict[str, ControlState]) -> frozenset:
    """Ids of the controls marked implemented."""
    return frozenset(control_id for control_id, state in states.items() if state.status == "implemented")


def history(store: Store, pipeline_id: str, subject_id: str | None = None, limit: int = 500) -> list[HistoryEntry]:
    """Register and control changes of a pipeline, newest first (optionally of one threat/control)."""
    require("view", pipeline_id)
    query = f"SELECT {_HISTORY_ROWS.columns} FROM register_history WHERE pipeline_id = ?"
    params: list = [pipeline_id]
    if subject_id is not None:
        query += " AND subject_id = ?"
        params.append(subject_id)
    query += " ORDER BY change_id DESC LIMIT ?"
    params.append(int(limit))
    with store.connect() as conn:
        return _HISTORY_ROWS.all(conn.execute(query, params).fetchall())
