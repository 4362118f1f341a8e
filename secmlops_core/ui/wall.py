"""The ops wall: kiosk-style tiles that refresh on their own (``st.fragment(run_every=...)``).

Every wall screen in the process shares one :func:`collect` per refresh interval through
``st.cache_data`` (keyed by the interval bucket, ttl = interval, two entries kept), so ten
screens cost one set of queries; the alert evaluator runs inside that shared call, rate-limited
across processes. Nothing accumulates in ``st.session_state`` except the fragment's own timer.

The layout is fixed to the viewport: tile, frame and chart heights are in ``vh`` and type
scales with the screen's height, so a 1920x1080 and a 3840x2160 screen show the same wall,
and a portrait or landscape frame is letterboxed inside its box without moving anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import streamlit as st

from secmlops_core.monitoring.wall_state import EVENTS_MINUTES, SERIES_MINUTES, FeedTile, WallState, collect
from secmlops_core.ui.charts import per_minute_figure
from secmlops_core.ui.shell import acting_principal, settings, signed_in_fragment, store
from secmlops_core.ui.text import escape_markdown

SEVERITIES = ("critical", "high", "medium", "low")
# Marks are Material icons (Streamlit ships the font) plus the word, never emoji.
SEVERITY_MARK = {"critical": ":red[:material/error:]", "high": ":orange[:material/warning:]",
                 "medium": ":yellow[:material/report:]", "low": ":blue[:material/info:]",
                 "info": ":gray[:material/info:]"}
HEALTH_MARK = {"up": ":green[:material/check_circle:] up", "stale": ":orange[:material/schedule:] stale",
               "down": ":red[:material/cancel:] down"}
DRIFT_MARK = {True: ":orange[:material/warning:] **DRIFT**", False: ":green[:material/check_circle:] no drift"}
DRIFT_VALUE = {"drift": "DRIFT", "stable": "stable", "no data": "–"}
PANELS = ("Per-minute telemetry", "Active incidents", "Drift by camera")
CHART_PANELS = [("pedestrians_per_frame", "Pedestrians / frame"), ("fps", "FPS")]
MAX_FEED_TILES = 4

# Static CSS only (no dynamic values). Streamlit sizes its type and spacing in rem, so the root
# font size in vh scales the whole wall with the screen (16 px at 1080 lines, 32 px at 2160).
# Plotly sizes its text in px: its labels are scaled by the same rule here.
_CSS = """
<style>
html { font-size: max(12px, 1.48vh); }
[data-testid="stMainBlockContainer"] { padding: 4.4rem 1.4vw 0 1.4vw !important; max-width: 100% !important; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.9vh; }
[data-testid="stMetric"] { background: #151b2e; border: 1px solid #2a3350; border-radius: 0.6vh;
  padding: 0.8vh 1vw; height: 11vh; overflow: hidden; }
[data-testid="stMetricValue"] { font-size: 4.6vh !important; font-weight: 700; line-height: 1.15; }
[data-testid="stMetricValue"] > div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[data-testid="stMetricLabel"] p { font-size: 1.75vh !important; text-transform: uppercase; letter-spacing: .05em; }
.st-key-wall-severity [data-testid="stMetric"] { height: 9vh; }
.st-key-wall-severity [data-testid="stMetricValue"] { font-size: 3.8vh !important; }
.st-key-wall-demo p, .st-key-wall-demo [data-testid="stMarkdownContainer"] { font-size: 1.6vh; }
.st-key-wall-demo { background: #151b2e; border: 1px solid #2a3350; border-radius: 0.6vh; padding: 0.8vh 1vw;
  height: 9vh !important; min-height: 9vh; overflow: hidden; gap: 0.2vh !important; }
.st-key-wall-demo [data-testid="stMarkdownContainer"] p { margin: 0; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
[class*="st-key-wall-feeds-"] { height: 62vh; overflow: hidden; }
[class*="st-key-wall-feeds-"] [data-testid="stElementContainer"]:has(img),
[class*="st-key-wall-feeds-"] [data-testid="stElementContainer"]:has(img) div {
  width: 100% !important; max-width: 100% !important; }
[class*="st-key-wall-feeds-"] [data-testid="stImageContainer"] { background: #000; border-radius: 0.4vh; }
[class*="st-key-wall-feeds-"] img { width: 100% !important; max-width: 100% !important; object-fit: contain;
  display: block; }
.st-key-wall-feeds-1 img { height: 56vh !important; }
.st-key-wall-feeds-2 img { height: 54vh !important; }
.st-key-wall-feeds-3 img, .st-key-wall-feeds-4 img { height: 25vh !important; }
[class*="st-key-wall-feeds-"] [data-testid="stMarkdownContainer"] p { font-size: 1.7vh; margin: 0;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[class*="st-key-wall-"] [data-testid="stMarkdownContainer"] { margin-bottom: 0 !important; }
[class*="st-key-wall-"] [data-testid="stMarkdownContainer"] p { line-height: 1.35; }
.stElementContainer[data-stale="true"] { opacity: 1 !important; transition: none !important; }
.st-key-wall-panel { height: 62vh; overflow: hidden; }
.st-key-wall-panel h3 { font-size: 2.6vh !important; padding: 0 0 0.6vh 0; }
.st-key-wall-panel [data-testid="stMarkdownContainer"] p { font-size: 1.9vh; margin: 0 0 0.5vh 0;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.st-key-wall-chart { height: 55vh; }
.st-key-wall-chart .xaxislayer-above text, .st-key-wall-chart .yaxislayer-above text {
  font-size: max(11px, 1.35vh) !important; }
.st-key-wall-chart [class^="g-x"][class$="title"] text, .st-key-wall-chart [class^="g-y"][class$="title"] text,
.st-key-wall-chart .legendtext { font-size: max(11px, 1.45vh) !important; }
.st-key-wall-events { height: 8.4vh; overflow: hidden; gap: 0.3vh !important; }
.st-key-wall-events p { font-size: 1.8vh; margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.st-key-wall-footer p { font-size: 1.4vh; margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
</style>
"""

# Kiosk screens and ?embed=true: the wall alone (app.py already leaves the navigation out), so
# the top padding that keeps the tiles clear of Streamlit's header (3.75rem) goes too.
_CHROMELESS_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.2vh !important; }
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
    if st.context.is_embedded or acting_principal().auth_method == "kiosk":
        st.markdown(_CHROMELESS_CSS, unsafe_allow_html=True)

    @signed_in_fragment(run_every=refresh_seconds())
    def body():
        try:
            state = wall_state()
        except Exception as exc:  # never a traceback on the wall
            st.error(f"The wall could not read its data: {escape_markdown(exc)}")
            return
        panel = rotating_panel(state)  # prepared before anything is drawn
        _tiles(state)
        _severity_and_demo(state)
        left, right = st.columns([3, 2])
        with left:
            _frames(state)
        with right:
            _draw_panel(panel)
        _events(state)
        _footer(state)

    body()


def _tiles(state: WallState) -> None:
    active = sum(state.incidents_by_severity.values())
    cols = st.columns(6)
    cols[0].metric("Feeds up", f"{state.feeds_up}/{len(state.feeds)}")
    cols[1].metric("FPS", _fmt(state.fps, "{:.1f}"))
    cols[2].metric("p95 latency", _fmt(state.latency_p95_ms, "{:.0f} ms"))
    cols[3].metric("Pedestrians / min", _fmt(state.pedestrians_per_minute, "{:.0f}"))
    cols[4].metric("Drift", DRIFT_VALUE[state.drift_status])
    cols[5].metric("Open incidents", f"{active}")


def _severity_and_demo(state: WallState) -> None:
    with st.container(key="wall-severity"):
        cols = st.columns(5)
        for col, severity in zip(cols[:4], SEVERITIES):
            col.metric(f"{SEVERITY_MARK[severity]} {severity}", state.incidents_by_severity.get(severity, 0))
        with cols[4].container(key="wall-demo"):
            _last_demo(state)


def _last_demo(state: WallState) -> None:
    st.markdown("**LAST ATTACK DEMO**")
    demo = state.last_demo
    if demo is None:
        st.markdown("none recorded")
        return
    mark = ":red[:material/gpp_bad:]" if demo.goal_reached else ":green[:material/verified_user:]"
    when = f"{demo.at:%H:%M} UTC · " if demo.at else ""
    st.markdown(f"{mark} {when}{escape_markdown(demo.attack_title)} on {escape_markdown(demo.target_label)}")
    st.markdown(escape_markdown(demo.outcome))


EVENT_MARK = {"scenario_switch": ":blue[:material/swap_horiz:]", "drift_start": ":orange[:material/trending_up:]",
              "drift_end": ":green[:material/trending_flat:]"}


def _events(state: WallState) -> None:
    with st.container(key="wall-events"):
        if not state.events:
            st.markdown(":gray[:material/timeline:] No scenario switch or drift start or end in the last "
                        f"{EVENTS_MINUTES // 60} hours.")
        for event in state.events:
            camera = f"**{escape_markdown(event.camera)}** · " if event.camera else ""
            st.markdown(f"{EVENT_MARK.get(event.kind, ':gray[:material/timeline:]')} {event.at:%H:%M} UTC · "
                        f"{escape_markdown(event.label)} · {camera}{escape_markdown(event.detail)}")


def _frames(state: WallState) -> None:
    if not state.feeds:
        with st.container(key="wall-feeds-0"):
            st.info("No camera feed is running. Start one: `secmlops feed --source sample --camera-id cam-1`.")
        return
    tiles = state.feeds[:MAX_FEED_TILES]
    per_row = 1 if len(tiles) == 1 else 2
    with st.container(key=f"wall-feeds-{len(tiles)}"):
        for row_start in range(0, len(tiles), per_row):
            cols = st.columns(per_row)
            for col, tile in zip(cols, tiles[row_start:row_start + per_row]):
                with col:
                    _feed_tile(tile)
        if len(state.feeds) > MAX_FEED_TILES:
            st.markdown(f"+{len(state.feeds) - MAX_FEED_TILES} more camera(s) not shown")


def _feed_tile(tile: FeedTile) -> None:
    if tile.frame:
        st.image(tile.frame, width="stretch")
    else:
        st.markdown("Feed down: no live frame." if tile.health == "down" else "No frame yet.")
    st.markdown(f"**{escape_markdown(tile.camera_id)}** · {HEALTH_MARK.get(tile.health, escape_markdown(tile.health))}"
                f" · {tile.fps:.1f} fps · {escape_markdown(tile.scenario)}")
    st.markdown(f":orange[:material/info:] {escape_markdown(tile.source_note)}" if tile.source_note else " ")


@dataclass(frozen=True)
class Panel:
    """The rotating panel's heading and its content, decided together from one state."""

    heading: str
    figure: object | None = None  # a plotly figure
    lines: tuple[str, ...] = ()  # Markdown lines (user text escaped)
    empty_note: str = ""


def rotating_panel(state: WallState) -> Panel:
    """The panel this state shows: its index comes from the state's own time, and its content is
    built before anything is drawn, so the heading and the content never come from two refreshes."""
    index = int(state.at.timestamp() // refresh_seconds()) % len(PANELS)
    heading = PANELS[index]
    if index == 0:
        series = state.series
        if series is None or series.empty:
            note = "No whole minute of telemetry in the last 30 minutes."
            if series is not None and series.partial_minute is not None:
                note += f" The minute in progress ({series.partial_minute:%H:%M} UTC) is partial."
            return Panel(heading, empty_note=note)
        return Panel(heading, figure=per_minute_figure(
            series, CHART_PANELS, start=state.at - timedelta(minutes=SERIES_MINUTES), end=state.at, font_size=18,
            marker_size=9, line_width=3.5, axis_titles=True, legend_entry_px=260))
    if index == 1:
        lines = tuple(
            f"{SEVERITY_MARK.get(i['severity'], '')} **{escape_markdown(i['severity']).upper()}** "
            f"{escape_markdown(i['title'])} · {escape_markdown(i['status'])} · ×{i['occurrences']}"
            for i in state.top_incidents)
        return Panel(heading, lines=lines, empty_note=":green[:material/check_circle:] No active incidents.")
    lines = tuple(
        f"{DRIFT_MARK[bool(d['dataset_drift'])]}"
        f" · **{escape_markdown(cam)}** · share {d['share']:.2f}"
        + (f" · {escape_markdown(', '.join(d['drifted']))}" if d["drifted"] else "")
        for cam, d in state.drift.items())
    return Panel(heading, lines=lines, empty_note="No drift snapshot in the last 15 minutes.")


def _draw_panel(panel: Panel) -> None:
    with st.container(key="wall-panel"):
        st.subheader(panel.heading)
        if panel.figure is not None:
            with st.container(key="wall-chart"):
                st.plotly_chart(panel.figure, width="stretch", height="stretch", key="wall:chart",
                                config={"displayModeBar": False, "staticPlot": True})
        elif panel.lines:
            for line in panel.lines:
                st.markdown(line)
        else:
            st.markdown(panel.empty_note)


def _footer(state: WallState) -> None:
    with st.container(key="wall-footer"):
        footer = f"Updated {state.at:%H:%M:%S} UTC · every {refresh_seconds():g} s"
        if state.evaluation:
            footer += f" · {escape_markdown(state.evaluation)}"
        st.caption(footer)
        for problem in state.problems[:3]:
            st.caption(f":orange[:material/warning:] {escape_markdown(problem)}")
