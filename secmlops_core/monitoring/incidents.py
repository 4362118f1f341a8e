"""Incidents: lifecycle open -> acknowledged -> investigating -> resolved, owner, notes, timeline,
links to the telemetry window and to threats, MTTA/MTTR."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from secmlops_core.errors import UserFacingError
from secmlops_core.evidence import add_evidence
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper
from secmlops_core.telemetry.writer import utc_now

STATUSES = ("open", "acknowledged", "investigating", "resolved")
ACTIVE = ("open", "acknowledged", "investigating")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
MAX_NOTE_CHARS = 4000
MAX_ACTOR_CHARS = 100


@dataclass(frozen=True)
class Incident:
    """One incident."""

    incident_id: str
    rule_id: str
    dedup_key: str
    title: str
    severity: str
    status: str
    owner_role: str
    camera_id: str | None
    signal: str | None
    window_start: datetime | None
    window_end: datetime | None
    details: dict
    threat_links: list
    occurrences: int
    opened_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    investigating_at: datetime | None
    resolved_at: datetime | None
    cause: str | None = None  # drift: the scenario (or unlabelled change) this episode is about
    ended_at: datetime | None = None  # drift: when the input came back in line with the reference

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        first = self.acknowledged_at or self.investigating_at or self.resolved_at
        return first - self.opened_at if first else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.opened_at if self.resolved_at else None


@dataclass(frozen=True)
class IncidentEvent:
    """One line of an incident's timeline."""

    at: datetime
    kind: str  # opened, status, owner, note, drift-end, superseded
    actor: str
    text: str


@dataclass(frozen=True)
class ResponseStats:
    """Mean time to acknowledge / resolve over the incidents opened in a period."""

    incidents: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None
    mttr: timedelta | None
    active_by_severity: dict = field(default_factory=dict)


_INCIDENT_ROWS = row_mapper(Incident, json=("details", "threat_links"))
_EVENT_ROWS = row_mapper(IncidentEvent, sql={"at": "event_at"})


def _actor(actor: str | None) -> str:
    """Check the permission to handle incidents; the actor defaults to the signed-in principal."""
    from secmlops_core.access.policy import require

    principal = require("manage_incidents")
    actor = (actor or "").strip() or principal.label
    return actor[:MAX_ACTOR_CHARS]


def _event(conn, incident_id: str, at: datetime, kind: str, actor: str, text: str = "") -> None:
    conn.execute("INSERT INTO incident_events (incident_id, event_at, kind, actor, text) VALUES (?, ?, ?, ?, ?)",
                 [incident_id, at, kind, actor, text[:MAX_NOTE_CHARS]])


def _human_event(conn, incident_id: str, at: datetime, kind: str, actor: str, text: str = "",
                 before=None, after=None) -> None:
    """A person's action: on the incident's timeline and, in the same transaction, in the audit trail."""
    from secmlops_core.access import audit

    _event(conn, incident_id, at, kind, actor, text)
    audit.record(conn, f"incident.{kind}", incident_id, before,
                 after if after is not None else {"text": text[:MAX_NOTE_CHARS], "by": actor})


@lru_cache(maxsize=1)
def _rules_by_signal() -> dict[str, set[str]]:
    from secmlops_core.catalog.loading import builtin_rules

    out: dict[str, set[str]] = {}
    for rule in builtin_rules().values():
        if rule.telemetry_signal:
            out.setdefault(rule.telemetry_signal, set()).add(rule.id)
    return out


def threats_for_signal(store: Store, signal: str | None) -> list[dict]:
    """Present threats, in any pipeline's register, whose rule names this telemetry signal."""
    rule_ids = sorted(_rules_by_signal().get(signal or "", set()))
    if not rule_ids:
        return []
    marks = ", ".join("?" for _ in rule_ids)
    with store.connect() as conn:  # the store's migrations create the register table on every connect
        rows = conn.execute(f"SELECT pipeline_id, threat_id, rule_id, title FROM threat_register WHERE present "
                            f"AND rule_id IN ({marks}) ORDER BY pipeline_id, rule_id, threat_id", rule_ids).fetchall()
    return [{"pipeline_id": p, "threat_id": t, "rule_id": r, "title": title} for p, t, r, title in rows]


def record_alert(store: Store, *, rule, dedup_key: str, title: str, camera_id: str | None = None,
                 window: tuple[datetime, datetime] | None = None, details: dict | None = None,
                 severity: str | None = None, now: datetime | None = None,
                 threat_links: list[dict] | None = None, once: bool = False,
                 cause: str | None = None) -> tuple[str, str | None]:
    """Turn one firing of ``rule`` into an incident: ("opened", id), ("deduplicated", id) or ("cooldown", None).

    An active incident with the same rule and key absorbs the firing (occurrences + 1) unless its drift
    has ended (see :func:`end_drift`): a drift start after an end is a new incident. Otherwise a new
    incident opens unless the rule fired for this key less than ``cooldown_minutes`` ago.
    ``once``: the key names a single event (an evidence record); it never opens a second incident.
    ``cause`` (drift): when a new incident opens, the camera's other drift incidents of this rule whose
    drift had not ended are marked ended, superseded by the new cause.
    """
    now = now or utc_now()
    details = details or {}
    links = threats_for_signal(store, rule.signal) if threat_links is None else threat_links
    with store.connect() as conn:
        active = conn.execute("SELECT incident_id FROM incidents WHERE rule_id = ? AND dedup_key = ? AND "
                              "ended_at IS NULL AND (status <> 'resolved' OR ?) ORDER BY opened_at DESC LIMIT 1",
                              [rule.id, dedup_key, once]).fetchone()
        if active and once:
            return "deduplicated", active[0]
        if active:
            conn.execute("UPDATE incidents SET occurrences = occurrences + 1, last_seen_at = ?, window_end = "
                         "coalesce(?, window_end), details = ? WHERE incident_id = ?",
                         [now, window[1] if window else None, json.dumps(details, default=str), active[0]])
            conn.execute("UPDATE alert_state SET last_fired_at = ? WHERE rule_id = ? AND dedup_key = ?",
                         [now, rule.id, dedup_key])
            return "deduplicated", active[0]
        last = conn.execute("SELECT last_fired_at FROM alert_state WHERE rule_id = ? AND dedup_key = ?",
                            [rule.id, dedup_key]).fetchone()
        if last and last[0] and now - last[0] < timedelta(minutes=rule.cooldown_minutes):
            return "cooldown", None
        incident_id = uuid.uuid4().hex[:12]
        conn.execute(f"INSERT INTO incidents ({_INCIDENT_ROWS.columns}) VALUES ({_INCIDENT_ROWS.placeholders})",
                     [incident_id, rule.id, dedup_key, title[:300], severity or rule.severity, "open", rule.owner_role,
                      camera_id, rule.signal, window[0] if window else None, window[1] if window else None,
                      json.dumps(details, default=str), json.dumps(links), 1, now, now, None, None, None, cause, None])
        conn.execute("INSERT INTO alert_state (rule_id, dedup_key, last_fired_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (rule_id, dedup_key) DO UPDATE SET last_fired_at = excluded.last_fired_at",
                     [rule.id, dedup_key, now])
        summary = details.get("summary", "")
        _event(conn, incident_id, now, "opened", "alert-rules", f"{rule.id}: {summary}".strip(": "))
        if cause is not None and camera_id:
            _supersede(conn, rule.id, camera_id, incident_id, cause, now)
    _record_evidence(store, incident_id, title, links, details)
    return "opened", incident_id


def _supersede(conn, rule_id: str, camera_id: str, new_id: str, cause: str, now: datetime) -> None:
    """End the camera's earlier, not yet ended drift incidents: a new cause took over."""
    rows = conn.execute("SELECT incident_id FROM incidents WHERE rule_id = ? AND camera_id = ? AND incident_id <> ? "
                        "AND ended_at IS NULL AND status <> 'resolved'", [rule_id, camera_id, new_id]).fetchall()
    for (old_id,) in rows:
        conn.execute("UPDATE incidents SET ended_at = ? WHERE incident_id = ?", [now, old_id])
        _event(conn, old_id, now, "superseded", "alert-rules", f"a new cause ({cause}) opened incident {new_id}")


def end_drift(store: Store, *, rule, camera_id: str, now: datetime | None = None, quiet_minutes: float = 0.0,
              summary: str = "") -> list[str]:
    """Mark the camera's drift incidents of ``rule`` as ended once no firing came for ``quiet_minutes``.

    The incident stays for an operator to resolve; its timeline gets a ``drift-end`` line, and a later
    drift start opens a new incident. Returns the ids of the incidents ended now.
    """
    now = now or utc_now()
    with store.connect() as conn:
        rows = conn.execute("SELECT incident_id FROM incidents WHERE rule_id = ? AND camera_id = ? "
                            "AND ended_at IS NULL AND status <> 'resolved' AND last_seen_at <= ?",
                            [rule.id, camera_id, now - timedelta(minutes=quiet_minutes)]).fetchall()
        for (incident_id,) in rows:
            conn.execute("UPDATE incidents SET ended_at = ? WHERE incident_id = ?", [now, incident_id])
            _event(conn, incident_id, now, "drift-end", "alert-rules", f"drift ended: {summary}".strip(": "))
    return [r[0] for r in rows]


def _record_evidence(store: Store, incident_id: str, title: str, links: list[dict], details: dict) -> None:
    metrics = {k: v for k, v in details.items() if isinstance(v, (int, float, str, bool))}
    for link in links or [None]:
        add_evidence(store, "incident", f"incident:{incident_id}", title,
                     pipeline_id=link["pipeline_id"] if link else None, threat_id=link["threat_id"] if link else None,
                     outcome="fail", metrics=metrics)


def open_manual(store: Store, title: str, severity: str, owner_role: str, actor: str | None = None, camera_id: str | None = None,
                note: str = "") -> str:
    """Open an incident by hand (no rule); returns its id."""
    from secmlops_core.catalog.loading import load_roles
    from secmlops_core.monitoring.rules import AlertRule

    actor = _actor(actor)
    if severity not in SEVERITY_ORDER:
        raise UserFacingError(f"severity must be one of {', '.join(SEVERITY_ORDER)}")
    if owner_role not in load_roles():
        raise UserFacingError(f"unknown owner role {owner_role!r}")
    if not title.strip():
        raise UserFacingError("an incident needs a title")
    rule = AlertRule("manual", "Manual", "manual", None, severity, owner_role, 0, "")
    _, incident_id = record_alert(store, rule=rule, dedup_key=uuid.uuid4().hex, title=title.strip(),
                                  camera_id=camera_id, details={"summary": note.strip(), "opened_by": actor},
                                  threat_links=[])
    from secmlops_core.access import audit

    audit.record_event(store, "incident.open", incident_id, None,
                       {"title": title.strip(), "severity": severity, "owner_role": owner_role, "by": actor})
    return incident_id


def get_incident(store: Store, incident_id: str) -> Incident:
    """One incident; UserFacingError when unknown."""
    with store.connect() as conn:
        incident = _INCIDENT_ROWS.by_key(conn, "incidents", "incident_id", incident_id)
    if incident is None:
        raise UserFacingError(f"no incident {incident_id!r}")
    return incident


def list_incidents(store: Store, *, statuses: tuple[str, ...] | None = None, severities: tuple[str, ...] | None = None,
                   since: datetime | None = None, limit: int = 500) -> list[Incident]:
    """Incidents, most severe active first, then newest."""
    clauses, params = [], []
    for column, values in (("status", statuses), ("severity", severities)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    if since is not None:
        clauses.append("opened_at >= ?")
        params.append(since)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = ("CASE WHEN status = 'resolved' THEN 1 ELSE 0 END, CASE severity " +
             " ".join(f"WHEN '{s}' THEN {i}" for s, i in SEVERITY_ORDER.items()) + " END, opened_at DESC")
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_INCIDENT_ROWS.columns} FROM incidents {where} ORDER BY {order} LIMIT ?",
                            [*params, int(limit)]).fetchall()
    return _INCIDENT_ROWS.all(rows)


def timeline(store: Store, incident_id: str) -> list[IncidentEvent]:
    """The incident's events, oldest first."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_EVENT_ROWS.columns} FROM incident_events WHERE incident_id = ? "
                            "ORDER BY event_at, event_id", [incident_id]).fetchall()
    return _EVENT_ROWS.all(rows)


def set_status(store: Store, incident_id: str, status: str, actor: str | None = None, note: str = "",
               now: datetime | None = None) -> Incident:
    """Move an incident forward in its lifecycle (steps may be skipped, never reversed)."""
    actor, now = _actor(actor), now or utc_now()
    if status not in STATUSES:
        raise UserFacingError(f"status must be one of {', '.join(STATUSES)}")
    current = get_incident(store, incident_id)
    if STATUSES.index(status) <= STATUSES.index(current.status):
        raise UserFacingError(f"incident {incident_id} is {current.status}; it cannot go to {status} "
                              f"(the lifecycle is {' -> '.join(STATUSES)})")
    stamps = {"acknowledged": "acknowledged_at", "investigating": "investigating_at", "resolved": "resolved_at"}
    with store.connect() as conn:
        conn.execute(f"UPDATE incidents SET status = ?, {stamps[status]} = ? WHERE incident_id = ? AND status = ?",
                     [status, now, incident_id, current.status])
        _human_event(conn, incident_id, now, "status", actor, f"{current.status} -> {status}",
                     {"status": current.status}, {"status": status, "by": actor})
        if note.strip():
            _human_event(conn, incident_id, now, "note", actor, note.strip())
    return get_incident(store, incident_id)


def set_owner(store: Store, incident_id: str, owner_role: str, actor: str | None = None) -> Incident:
    """Hand the incident to another role."""
    from secmlops_core.catalog.loading import load_roles

    actor = _actor(actor)
    if owner_role not in load_roles():
        raise UserFacingError(f"unknown owner role {owner_role!r}; roles: {', '.join(load_roles())}")
    current = get_incident(store, incident_id)
    with store.connect() as conn:
        conn.execute("UPDATE incidents SET owner_role = ? WHERE incident_id = ?", [owner_role, incident_id])
        _human_event(conn, incident_id, utc_now(), "owner", actor, f"{current.owner_role} -> {owner_role}",
                     {"owner_role": current.owner_role}, {"owner_role": owner_role, "by": actor})
    return get_incident(store, incident_id)


def add_note(store: Store, incident_id: str, text: str, actor: str | None = None) -> None:
    """Append a note to the timeline."""
    actor = _actor(actor)
    text = (text or "").strip()
    if not text:
        raise UserFacingError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise UserFacingError(f"notes are limited to {MAX_NOTE_CHARS} characters")
    get_incident(store, incident_id)
    with store.connect() as conn:
        _human_event(conn, incident_id, utc_now(), "note", actor, text)


def response_stats(store: Store, since: datetime | None = None) -> ResponseStats:
    """MTTA (open -> first response) and MTTR (open -> resolved) over incidents opened since ``since``."""
    where, params = ("WHERE opened_at >= ?", [since]) if since else ("", [])
    with store.connect() as conn:
        row = conn.execute(
            "SELECT count(*), count(coalesce(acknowledged_at, investigating_at, resolved_at)), count(resolved_at), "
            "avg(epoch(coalesce(acknowledged_at, investigating_at, resolved_at) - opened_at)), "
            f"avg(epoch(resolved_at - opened_at)) FROM incidents {where}", params).fetchone()
        active = dict(conn.execute("SELECT severity, count(*) FROM incidents WHERE status <> 'resolved' "
                                   "GROUP BY severity").fetchall())
    total, acked, resolved, mtta, mttr = row
    return ResponseStats(int(total), int(acked), int(resolved),
                         timedelta(seconds=float(mtta)) if mtta is not None else None,
                         timedelta(seconds=float(mttr)) if mttr is not None else None,
                         {s: int(active.get(s, 0)) for s in SEVERITY_ORDER})
