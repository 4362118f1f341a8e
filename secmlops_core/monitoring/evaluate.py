"""Alert evaluation: every enabled rule over the latest telemetry, drift and evidence -> incidents.

Who runs it: the ops wall and the Monitoring page call :func:`evaluate` from their (cached)
refresh, at most once per ``min_interval_s`` across all processes (the last run is recorded
in the store); a headless deployment runs ``secmlops monitor`` instead, which loops over the
same function. Deduplication and cooldown live in :func:`.incidents.record_alert`, so a
second evaluator racing the first cannot open a duplicate incident.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from secmlops_core.errors import UserFacingError
from secmlops_core.evidence import list_evidence
from secmlops_core.monitoring import incidents
from secmlops_core.monitoring.rules import AlertCatalog, AlertRule, load_alert_rules
from secmlops_core.monitoring.windows import Window
from secmlops_core.store import Store
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now


@dataclass(frozen=True)
class Firing:
    """A rule condition that holds now."""

    rule: AlertRule
    dedup_key: str
    title: str
    camera_id: str | None
    window: tuple[datetime, datetime] | None
    details: dict
    severity: str | None = None
    threat_links: list | None = None
    once: bool = False
    cause: str | None = None  # drift: a new cause opens a new incident and ends the camera's previous one


@dataclass(frozen=True)
class DriftClear:
    """A drift rule found a camera's current window back in line with its reference (a possible drift end)."""

    rule: AlertRule
    camera_id: str
    summary: str


@dataclass
class EvaluationReport:
    """What one evaluation did."""

    started_at: datetime
    seconds: float = 0.0
    skipped: bool = False  # rate-limited: another evaluation ran less than min_interval_s ago
    outcomes: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # rule, key, outcome, incident
    problems: list[str] = field(default_factory=list)

    @property
    def opened(self) -> list[str]:
        return [i for _, _, outcome, i in self.outcomes if outcome == "opened"]


class _Context:
    """Shared inputs of one evaluation (queries cached per window)."""

    def __init__(self, store: Store, settings, now: datetime, telemetry_dir, catalog: AlertCatalog):
        from secmlops_core.monitoring.reference import SettledSpec

        self.store, self.settings, self.now, self.telemetry_dir = store, settings, now, telemetry_dir
        self._stats: dict[tuple, pd.DataFrame] = {}
        drift_rules = [r for r in catalog.rules.values() if r.kind == "drift_share" and r.enabled]
        self.reference_spec = SettledSpec.from_params(drift_rules[0].params["reference"] if drift_rules else None)
        self._references: dict[str, object] = {}

    def reference(self, camera: str):
        """The camera's drift reference (found and stored on first need), or None before it has settled."""
        from secmlops_core.monitoring.reference import effective_reference

        if camera not in self._references:
            self._references[camera] = effective_reference(self.store, camera, self.reference_spec, now=self.now,
                                                           telemetry_dir=self.telemetry_dir)
        return self._references[camera]

    def window(self, minutes: float, before_minutes: float = 0) -> Window:
        end = self.now - timedelta(minutes=before_minutes)
        return Window(end - timedelta(minutes=minutes), end)

    def stats(self, window: Window) -> pd.DataFrame:
        """Per camera: frames, mean confidence, p95 latency, pedestrians per frame, frame-to-frame flicker."""
        key = (window.start, window.end)
        if key not in self._stats:
            with query.connect(window.start, window.end, self.telemetry_dir) as con:
                self._stats[key] = con.execute(
                    "SELECT camera_id, count(*) AS frames, avg(mean_confidence) AS confidence, "
                    "quantile_cont(latency_ms, 0.95) AS p95_ms, avg(pedestrians) AS pedestrians, "
                    "avg(abs(pedestrians - prev)) AS flicker_abs FROM (SELECT camera_id, mean_confidence, latency_ms, "
                    "pedestrians, lag(pedestrians) OVER (PARTITION BY camera_id ORDER BY ts) AS prev FROM events "
                    "WHERE ts >= ? AND ts < ?) GROUP BY camera_id ORDER BY camera_id",
                    [window.start, window.end]).df().set_index("camera_id")
        return self._stats[key]


def _compare(ctx: _Context, rule: AlertRule, column: str):
    """(camera, current value, reference value, current window) for cameras with enough frames in both windows.

    The reference is the camera's drift reference (pinned, or its first settled stretch of normal
    operation; see :mod:`.reference`), never a window that slides along with the current one.
    """
    p = rule.params
    cur_w = ctx.window(p["current_minutes"])
    cur = ctx.stats(cur_w)
    for camera in cur.index:
        found = ctx.reference(camera)
        if found is None:
            continue
        ref = ctx.stats(found.window)
        if camera not in ref.index:
            continue
        if cur.at[camera, "frames"] >= p["min_frames"] and ref.at[camera, "frames"] >= p["min_frames"]:
            c, r = cur.at[camera, column], ref.at[camera, column]
            if pd.notna(c) and pd.notna(r):
                yield camera, float(c), float(r), cur_w


def _firing(rule, camera, window: Window, summary: str, **values) -> Firing:
    return Firing(rule, camera, f"{rule.title} on {camera}", camera, (window.start, window.end),
                  {"summary": summary, **values})


def _confidence_drop(ctx, rule):
    for camera, cur, ref, w in _compare(ctx, rule, "confidence"):
        if ref - cur >= rule.params["drop"]:
            yield _firing(rule, camera, w, f"mean confidence {cur:.2f} vs {ref:.2f} in the reference window",
                          value=round(cur, 4), reference=round(ref, 4), threshold=rule.params["drop"])


def _pedestrian_anomaly(ctx, rule):
    p = rule.params
    for camera, cur, ref, w in _compare(ctx, rule, "pedestrians"):
        if ref >= p["min_reference"] and abs(cur - ref) / ref >= p["relative_change"]:
            yield _firing(rule, camera, w, f"{cur:.2f} pedestrians per frame vs {ref:.2f} in the reference window",
                          value=round(cur, 4), reference=round(ref, 4), threshold=p["relative_change"])


def _latency_slo(ctx, rule):
    p = rule.params
    w = ctx.window(p["window_minutes"])
    stats = ctx.stats(w)
    for camera, row in stats.iterrows():
        if row["frames"] >= p["min_frames"] and row["p95_ms"] >= p["p95_ms"]:
            yield _firing(rule, camera, w, f"p95 latency {row['p95_ms']:.0f} ms over {p['window_minutes']} min "
                          f"(SLO {p['p95_ms']} ms)", value=round(float(row["p95_ms"]), 1), threshold=p["p95_ms"])


def _detection_instability(ctx, rule):
    p = rule.params
    w = ctx.window(p["window_minutes"])
    for camera, row in ctx.stats(w).iterrows():
        if row["frames"] >= p["min_frames"] and row["pedestrians"] > 0 and pd.notna(row["flicker_abs"]):
            flicker = float(row["flicker_abs"]) / float(row["pedestrians"])
            if flicker >= p["flicker"]:
                yield _firing(rule, camera, w, f"pedestrian count flickers by {flicker:.0%} of its mean between "
                              "consecutive frames", value=round(flicker, 4), threshold=p["flicker"])
    for ev in _reported_attack_runs(ctx, p["evidence_lookback_minutes"]):
        value = ev.metrics.get(p["evidence_metric"])
        if isinstance(value, (int, float)) and value >= p["evidence_threshold"]:
            links = [{"pipeline_id": ev.pipeline_id, "threat_id": ev.threat_id}] if ev.threat_id else None
            yield Firing(rule, f"evidence:{ev.evidence_id}", f"{rule.title}: attack-lab defense flagged a run",
                         None, None, {"summary": ev.summary, "evidence_id": ev.evidence_id, "value": value,
                                      "threshold": p["evidence_threshold"]}, threat_links=links, once=True)


def _feed_down(ctx, rule):
    from secmlops_core.feed.state import list_statuses

    p = rule.params
    for status in list_statuses(ctx.settings):
        health = status.health
        if health == "up" or status.state in p["ignore_states"]:
            continue
        if time.time() - max(status.heartbeat_at, status.started_at) > p["max_age_hours"] * 3600:
            continue
        reason = status.last_error or f"runner state {status.state}"
        yield Firing(rule, status.camera_id, f"{rule.title}: {status.camera_id} is {health}", status.camera_id,
                     None, {"summary": f"{status.camera_id} is {health} ({reason})", "health": health,
                            "state": status.state})


def _reported_attack_runs(ctx, lookback_minutes: float):
    """Attack-lab evidence of the last ``lookback_minutes`` from runs reported to operations; demo runs
    (the default) stay evidence for threats and gates and open no operations incident."""
    since = ctx.now - timedelta(minutes=lookback_minutes)
    for ev in list_evidence(ctx.store, kind="attack_run", limit=200):
        if ev.created_at is not None and ev.created_at >= since and ev.metrics.get("reported_to_operations") is True:
            yield ev


def _attack_evidence(ctx, rule):
    p = rule.params
    for ev in _reported_attack_runs(ctx, p["lookback_minutes"]):
        links = [{"pipeline_id": ev.pipeline_id, "threat_id": ev.threat_id}] if ev.threat_id else []
        severity = p["severity_when_failed"] if ev.outcome == "fail" else None
        yield Firing(rule, f"evidence:{ev.evidence_id}", f"{rule.title}: {ev.summary[:120]}", None, None,
                     {"summary": ev.summary, "evidence_id": ev.evidence_id, "outcome": ev.outcome},
                     severity=severity, threat_links=links, once=True)


def _latest_cause(ctx: _Context, camera: str, window: Window, usual: str) -> str:
    """What the camera's feed was labelled when it drifted: its latest scenario other than ``usual`` in the
    window, else ``usual`` (a change the feed did not label)."""
    with query.connect(window.start, window.end, ctx.telemetry_dir) as con:
        row = con.execute("SELECT arg_max(scenario, ts) FROM events WHERE ts >= ? AND ts < ? AND camera_id = ? "
                          "AND scenario <> ?", [window.start, window.end, camera, usual]).fetchone()
    return row[0] if row and row[0] else usual


def _drift_share(ctx, rule):
    from secmlops_core.monitoring.drift import column_tests, compute_drift
    from secmlops_core.monitoring.reference import SettledSpec
    from secmlops_core.monitoring.snapshots import list_snapshots, save_snapshot

    p = rule.params
    tests, spec = column_tests(p), SettledSpec.from_params(p["reference"])
    cur_w = ctx.window(p["current_minutes"])
    cur = ctx.stats(cur_w)
    for camera in cur.index:
        if cur.at[camera, "frames"] < p["min_rows"]:
            continue
        found = ctx.reference(camera)
        if found is None:
            continue  # not settled yet: there is nothing trustworthy to compare with
        ref_w = found.window
        result = compute_drift(ref_w, cur_w, camera, min_rows=p["min_rows"], drift_share=p["share"], tests=tests,
                               telemetry_dir=ctx.telemetry_dir)
        recent = list_snapshots(ctx.store, camera=camera, since=ctx.now - timedelta(
            minutes=p["snapshot_every_minutes"]), limit=1)
        snapshot_id = None
        if result.dataset_drift or not recent or recent[0].dataset_drift:  # a drift end shows at once
            snapshot_id = save_snapshot(ctx.store, result, trigger=f"rule:{rule.id}", evidence=result.dataset_drift)
        shown = f"{len(result.drifted_columns)}/{len(result.columns)} columns drifted"
        if not result.dataset_drift:
            yield DriftClear(rule, camera, f"{shown}, below the dataset-drift share {p['share']:g}")
            continue
        cause = _latest_cause(ctx, camera, cur_w, spec.scenario)
        labelled = cause != spec.scenario
        key = f"{camera}:{cause}" if labelled else camera
        title = f"{rule.title} on {camera}" + (f" (scenario {cause})" if labelled else "")
        yield Firing(rule, key, title, camera, (cur_w.start, cur_w.end),
                     {"summary": f"{shown} ({', '.join(result.drifted_columns)})"
                                 + (f" while the feed ran scenario {cause}" if labelled else ""),
                      "value": round(result.drift_share, 4), "threshold": p["share"], "snapshot_id": snapshot_id,
                      "cause": cause, "drifted_columns": result.drifted_columns,
                      "reference_start": ref_w.start, "reference_end": ref_w.end, "reference": found.origin},
                     cause=cause)


EVALUATORS = {
    "drift_share": _drift_share, "confidence_drop": _confidence_drop, "latency_slo": _latency_slo,
    "pedestrian_anomaly": _pedestrian_anomaly, "detection_instability": _detection_instability,
    "feed_down": _feed_down, "attack_evidence": _attack_evidence,
}


def last_run(store: Store) -> datetime | None:
    """When the last evaluation started (any process)."""
    with store.connect() as conn:
        row = conn.execute("SELECT max(started_at) FROM alert_runs").fetchone()
    return row[0] if row else None


def evaluate(store: Store, settings=None, *, now: datetime | None = None, min_interval_s: float = 0.0,
             catalog: AlertCatalog | None = None, rule_ids: list[str] | None = None) -> EvaluationReport:
    """Evaluate the alert rules once; never raises for a rule's failure (it lands in ``problems``)."""
    from secmlops_core.settings import get_settings

    settings = settings or get_settings()
    now = now or utc_now()
    report = EvaluationReport(started_at=now)
    previous = last_run(store)
    if min_interval_s and previous and (now - previous).total_seconds() < min_interval_s:
        report.skipped = True
        return report
    started = time.perf_counter()
    catalog = catalog or load_alert_rules(settings.home)
    ctx = _Context(store, settings, now, settings.telemetry_dir, catalog)
    for rule in catalog.rules.values():
        if not rule.enabled or (rule_ids and rule.id not in rule_ids):
            continue
        try:
            firings = list(EVALUATORS[rule.kind](ctx, rule))
        except UserFacingError as exc:
            report.problems.append(f"{rule.id}: {exc}")
            continue
        except Exception as exc:  # one broken rule must not silence the others
            report.problems.append(f"{rule.id}: {type(exc).__name__}: {exc}")
            continue
        for f in firings:
            if isinstance(f, DriftClear):
                for incident_id in incidents.end_drift(store, rule=rule, camera_id=f.camera_id, now=now,
                                                       quiet_minutes=rule.params["end_after_minutes"],
                                                       summary=f.summary):
                    report.outcomes.append((rule.id, f.camera_id, "ended", incident_id))
                continue
            outcome, incident_id = incidents.record_alert(
                store, rule=rule, dedup_key=f.dedup_key, title=f.title, camera_id=f.camera_id, window=f.window,
                details=f.details, severity=f.severity, now=now, threat_links=f.threat_links, once=f.once,
                cause=f.cause)
            report.outcomes.append((rule.id, f.dedup_key, outcome, incident_id))
    report.seconds = time.perf_counter() - started
    with store.connect() as conn:
        run_id = conn.execute("SELECT coalesce(max(run_id), 0) + 1 FROM alert_runs").fetchone()[0]
        conn.execute("INSERT INTO alert_runs (run_id, started_at, seconds, fired, problems) VALUES (?, ?, ?, ?, ?)",
                     [run_id, now, report.seconds, len(report.opened), json.dumps(report.problems)])
        conn.execute("DELETE FROM alert_runs WHERE run_id <= ?", [run_id - 1000])
    return report
