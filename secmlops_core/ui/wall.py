"""The ops wall: kiosk-style tiles that refresh on their own (``st.fragment(run_every=...)``).

Every wall screen in the process shares one :func:`collect` per refresh interval through
``st.cache_data`` (keyed by the interval bucket, ttl = interval, two entries kept), so ten
screens cost one set of queries; the alert evaluator runs inside that shared call, rate-limited
across processes. Nothing accumulates in ``st.session_state`` except the fragment's own timer.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from secmlops_core.monitoring.wall_state import WallState, collect
from secmlops_core.ui.shell import settings, signed_in_fragment, store
from secmlops_core.ui.text import escape_markdown

SEVERITY_BADGE = {"critical": "🟥 critical", "high": "🟧 high", "medium": "🟨 medium", "low": "🟦 low", "info": "⬜ info"}
HEALTH_BADGE = {"up": "🟢 up", "stale": "🟠 stale", "down": "🔴 down"}
PANELS = ("Per-minute telemetry", "Active incidents", "Drift by camera")

# Static CSS only (no dynamic values): large metric type for reading across a room.
_CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 3.2rem; font-weight: 700; line-height: 1.1; }
[data-testid="stMetricLabel"] p { font-size: 1.15rem; text-transform: uppercase; letter-spacing: .06em; }
[data-testid="stMetric"] { background: #151b2e; border: 1px solid #2a3350; border-radius: 10px; padding: 14px 18px; }
</style>
"""


def refresh_seconds() -> float:
    """The wall's refresh interval (``settings.wall_refresh_seconds``)."""
    return float(settings().wall_refresh_seconds)


@st.cache_data(ttl=60, max_entries=2, show_spinner=False)
def _shared_state(bucket: int, interval: float) -> WallState:
    return collect(store(), settings(), evaluate_every_s=interval)


def wall_state() -> WallState:
    """This interval's shared state (one collect per interval for every screen of this process)."""
    interval = refresh_seconds()
    return _shared_state(int(time.time() // interval), interval)


def _fmt(value, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def render() -> None:
    """The whole wall."""
    st.markdown(_CSS, unsafe_allow_html=True)

    @signed_in_fragment(run_every=refresh_seconds())
    def body():
        try:
            state = wall_state()
        except Exception as exc:  # never a traceback on the wall
            st.error(f"The wall could not read its data: {escape_markdown(exc)}")
            return
        _tiles(state)
        _attack_and_severity(state)
        left, right = st.columns([3, 2])
        with left:
            _frames(state)
        with right:
            _rotating_panel(state)
        footer = f"Updated {state.at:%H:%M:%S} UTC · every {refresh_seconds():g} s"
        if state.evaluation:
            footer += f" · {escape_markdown(state.evaluation)}"
        st.caption(footer)
        for problem in state.problems[:5]:
            st.caption(f"⚠ {escape_markdown(problem)}")

    body()


def _tiles(state: WallState) -> None:
    active = sum(state.incidents_by_severity.values())
    drift = {"drift": "⚠ DRIFT", "stable": "✔ stable", "no data": "–"}[state.drift_status]
    cols = st.columns(6)
    cols[0].metric("Feeds up", f"{state.feeds_up}/{len(state.feeds)}")
    cols[1].metric("FPS", _fmt(state.fps, "{:.1f}"))
    cols[2].metric("p95 latency", _fmt(state.latency_p95_ms, "{:.0f} ms"))
    cols[3].metric("Pedestrians / min", _fmt(state.pedestrians_per_minute, "{:.0f}"))
    cols[4].metric("Drift", drift)
    cols[5].metric("Open incidents", f"{active}")


def _attack_and_severity(state: WallState) -> None:
    cols = st.columns(5)
    for col, severity in zip(cols[:4], ("critical", "high", "medium", "low")):
        col.metric(SEVERITY_BADGE[severity], state.incidents_by_severity.get(severity, 0))
    if state.last_attack:
        attack = state.last_attack
        outcome = {"fail": "attack succeeded", "pass": "defense held"}.get(attack["outcome"], "recorded")
        cols[4].metric("Last attack demo", f"{attack['at']:%H:%M}", help=escape_markdown(attack["summary"]))
        cols[4].caption(f"{outcome}: {escape_markdown(attack['summary'][:90])}")
    else:
        cols[4].metric("Last attack demo", "none")


def _frames(state: WallState) -> None:
    tiles = [f for f in state.feeds if f.frame]
    if not state.feeds:
        st.info("No camera feed is running. Start one: `secmlops feed --source sample --camera-id cam-1`.")
        return
    if not tiles:
        st.caption(" · ".join(f"{escape_markdown(f.camera_id)} {escape_markdown(HEALTH_BADGE.get(f.health, f.health))}"
                              for f in state.feeds))
        return
    cols = st.columns(min(2, len(tiles)))
    for i, tile in enumerate(tiles[:4]):
        cols[i % len(cols)].image(tile.frame, width="stretch", caption=(
            f"{escape_markdown(tile.camera_id)} · {escape_markdown(HEALTH_BADGE.get(tile.health, tile.health))} · "
            f"{tile.fps:.1f} fps · {escape_markdown(tile.scenario)}"))


def _rotating_panel(state: WallState) -> None:
    index = int(state.at.timestamp() // refresh_seconds()) % len(PANELS)
    st.subheader(PANELS[index])
    if index == 0:
        series = state.series
        if series is None or series.empty:
            st.caption("No telemetry in the last 30 minutes.")
        else:
            st.line_chart(series.set_index("minute")[["pedestrians_per_frame", "fps"]], height=320)
    elif index == 1:
        if not state.top_incidents:
            st.success("No active incidents.")
        else:
            frame = pd.DataFrame(state.top_incidents)
            frame["severity"] = frame["severity"].map(lambda s: SEVERITY_BADGE.get(s, s))
            st.dataframe(frame[["severity", "title", "status", "occurrences"]], hide_index=True, width="stretch")
    else:
        if not state.drift:
            st.caption("No drift snapshot in the last 15 minutes.")
        else:
            rows = [{"camera": cam, "drift": "⚠ yes" if d["dataset_drift"] else "no", "share": round(d["share"], 2),
                     "drifted columns": ", ".join(d["drifted"])} for cam, d in state.drift.items()]
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
