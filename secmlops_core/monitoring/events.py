"""The operations timeline: scenario switches, drift starts and ends, other incidents, as distinct events.

Scenario switches come from the telemetry's ``scenario`` column (a row whose scenario differs
from the camera's previous row); drift starts are drift incidents opening, drift ends their
``drift-end`` (or ``superseded``) timeline lines; other rules' incidents are listed as opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from secmlops_core.store import Store
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now

SCENARIO_SWITCH, DRIFT_START, DRIFT_END, INCIDENT = "scenario_switch", "drift_start", "drift_end", "incident"
KINDS = {SCENARIO_SWITCH: "Scenario switched", DRIFT_START: "Drift started", DRIFT_END: "Drift ended",
         INCIDENT: "Incident opened"}


@dataclass(frozen=True)
class OpsEvent:
    """One line of the operations timeline."""

    kind: str  # scenario_switch, drift_start, drift_end, incident
    at: datetime
    camera: str | None
    title: str
    detail: str
    incident_id: str | None = None
    severity: str | None = None

    @property
    def label(self) -> str:
        """The kind in words."""
        return KINDS.get(self.kind, self.kind)


def scenario_switches(since: datetime, until: datetime, camera_id: str | None = None,
                      telemetry_dir: Path | None = None) -> list[OpsEvent]:
    """Each change of a camera's scenario between ``since`` and ``until`` (from the telemetry)."""
    where, params = "ts >= ? AND ts < ?", [since, until]
    if camera_id:
        where += " AND camera_id = ?"
        params.append(camera_id)
    with query.connect(since, until, telemetry_dir) as con:
        rows = con.execute(
            f"SELECT camera_id, ts, previous, scenario FROM (SELECT camera_id, ts, scenario, lag(scenario) OVER "
            f"(PARTITION BY camera_id ORDER BY ts) AS previous FROM events WHERE {where}) "
            f"WHERE previous IS NOT NULL AND previous <> scenario ORDER BY ts", params).fetchall()
    return [OpsEvent(SCENARIO_SWITCH, ts, camera, f"{camera}: scenario {new}", f"switched from {old} to {new}")
            for camera, ts, old, new in rows]


def _drift_rule_ids(settings) -> set[str]:
    from secmlops_core.monitoring.rules import load_alert_rules

    return {r.id for r in load_alert_rules(settings.home).rules.values() if r.kind == "drift_share"}


def incident_events(store: Store, settings, since: datetime, until: datetime,
                    camera_id: str | None = None) -> list[OpsEvent]:
    """Drift starts and ends, and other incidents opening, between ``since`` and ``until``."""
    drift_rules = _drift_rule_ids(settings)
    where, params = "e.event_at >= ? AND e.event_at < ? AND e.kind IN ('opened', 'drift-end', 'superseded')", \
        [since, until]
    if camera_id:
        where += " AND i.camera_id = ?"
        params.append(camera_id)
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT e.event_at, e.kind, e.text, i.incident_id, i.rule_id, i.title, i.camera_id, i.severity "
            f"FROM incident_events e JOIN incidents i USING (incident_id) WHERE {where} ORDER BY e.event_at",
            params).fetchall()
    out = []
    for at, kind, text, incident_id, rule_id, title, camera, severity in rows:
        summary = text.split(": ", 1)[1] if ": " in text and kind == "opened" else text
        if rule_id in drift_rules:
            event_kind = DRIFT_START if kind == "opened" else DRIFT_END
            out.append(OpsEvent(event_kind, at, camera, title, summary, incident_id, severity))
        elif kind == "opened":
            out.append(OpsEvent(INCIDENT, at, camera, title, summary, incident_id, severity))
    return out


def recent_events(store: Store, settings, since: datetime, camera_id: str | None = None,
                  until: datetime | None = None) -> list[OpsEvent]:
    """Scenario switches, drift starts, drift ends and incidents since ``since``, oldest first."""
    until = until or utc_now()
    found = scenario_switches(since, until, camera_id, settings.telemetry_dir)
    found += incident_events(store, settings, since, until, camera_id)
    return sorted(found, key=lambda e: e.at)
