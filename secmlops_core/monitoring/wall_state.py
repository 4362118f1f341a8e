"""Everything the ops wall shows, gathered in one call (the UI caches it per refresh interval)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from secmlops_core.monitoring.minutes import MinuteSeries, minute_series
from secmlops_core.telemetry.writer import utc_now

if TYPE_CHECKING:
    from secmlops_core.attacks.demo_summary import DemoSummary
    from secmlops_core.monitoring.events import OpsEvent

KPI_MINUTES = 5
SERIES_MINUTES = 30
DRIFT_FRESH_MINUTES = 15
EVENTS_MINUTES = 120
EVENTS_SHOWN = 3


@dataclass(frozen=True)
class FeedTile:
    """One camera on the wall."""

    camera_id: str
    health: str
    fps: float
    scenario: str
    frame: bytes | None
    source_note: str | None = None  # e.g. the sample video could not be had and stills are shown


@dataclass
class WallState:
    """A snapshot of operations; ``problems`` are shown in place of what failed, never as a traceback."""

    at: datetime
    feeds: list[FeedTile] = field(default_factory=list)
    fps: float | None = None
    latency_p95_ms: float | None = None
    pedestrians_per_minute: float | None = None
    frames: int = 0
    drift: dict[str, dict] = field(default_factory=dict)  # camera -> {share, drifted, columns, at}
    incidents_by_severity: dict[str, int] = field(default_factory=dict)
    top_incidents: list[dict] = field(default_factory=list)
    last_demo: DemoSummary | None = None  # the latest attack-lab demo run (demo evidence, not operations)
    events: list[OpsEvent] = field(default_factory=list)  # latest scenario switches, drift starts/ends, newest first
    series: MinuteSeries | None = None  # per camera, whole minutes only
    evaluation: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def feeds_up(self) -> int:
        return sum(1 for f in self.feeds if f.health == "up")

    @property
    def drift_status(self) -> str:
        """"drift" when a camera's latest fresh snapshot shows dataset drift, "stable", or "no data"."""
        if not self.drift:
            return "no data"
        return "drift" if any(d["dataset_drift"] for d in self.drift.values()) else "stable"


def collect(store, settings, *, now: datetime | None = None, evaluate_every_s: float | None = None,
            with_frames: bool = True) -> WallState:
    """Gather the wall's data; runs the alert evaluator first when ``evaluate_every_s`` is set (rate-limited)."""
    from secmlops_core.attacks.demo_summary import last_demo
    from secmlops_core.feed.state import list_statuses, read_latest_frame
    from secmlops_core.monitoring import incidents
    from secmlops_core.monitoring.events import DRIFT_END, DRIFT_START, SCENARIO_SWITCH, recent_events
    from secmlops_core.monitoring.evaluate import evaluate
    from secmlops_core.monitoring.snapshots import list_snapshots
    from secmlops_core.telemetry import query

    now = now or utc_now()
    state = WallState(at=now)

    def guarded(name, work):
        try:
            work()
        except Exception as exc:  # the wall keeps showing what it can
            state.problems.append(f"{name}: {exc}")

    if evaluate_every_s:
        def run_rules():
            report = evaluate(store, settings, now=now, min_interval_s=evaluate_every_s)
            state.evaluation = ("rules evaluated by another screen" if report.skipped
                                else f"rules evaluated in {report.seconds:.1f} s")
            state.problems.extend(report.problems)
        guarded("alert rules", run_rules)

    def feeds():
        for s in list_statuses(settings):
            if s.health == "down" and s.state == "stopped":
                continue  # retired on purpose
            frame = read_latest_frame(settings, s.camera_id) if with_frames and s.health != "down" else None
            state.feeds.append(FeedTile(s.camera_id, s.health, float(s.fps), s.scenario, frame,
                                        getattr(s, "source_note", None)))
    guarded("feeds", feeds)

    def kpis():
        k = query.kpis(now - timedelta(minutes=KPI_MINUTES), now)
        state.frames, state.fps, state.latency_p95_ms = k.frames, k.fps, k.latency_p95_ms
        if k.pedestrians_per_frame is not None:
            state.pedestrians_per_minute = k.pedestrians_per_frame * k.frames / KPI_MINUTES
        state.series = minute_series(now - timedelta(minutes=SERIES_MINUTES), now, by_camera=True)
    guarded("telemetry", kpis)

    def drift():
        for snap in list_snapshots(store, since=now - timedelta(minutes=DRIFT_FRESH_MINUTES), limit=50):
            key = snap.camera_id or "all cameras"
            if key not in state.drift:
                state.drift[key] = {"dataset_drift": snap.dataset_drift, "share": snap.drift_share,
                                    "drifted": snap.result.get("drifted_columns", []), "at": snap.current_end}
    guarded("drift", drift)

    def incident_counts():
        stats = incidents.response_stats(store)
        state.incidents_by_severity = stats.active_by_severity
        state.top_incidents = [{"title": i.title, "severity": i.severity, "status": i.status,
                                "opened_at": i.opened_at, "occurrences": i.occurrences}
                               for i in incidents.list_incidents(store, statuses=incidents.ACTIVE, limit=6)]
    guarded("incidents", incident_counts)

    def demo():
        state.last_demo = last_demo(store)
    guarded("last demo", demo)

    def events():
        found = recent_events(store, settings, now - timedelta(minutes=EVENTS_MINUTES), until=now)
        drift_kinds = {SCENARIO_SWITCH, DRIFT_START, DRIFT_END}
        state.events = [e for e in reversed(found) if e.kind in drift_kinds][:EVENTS_SHOWN]
    guarded("events", events)
    return state
