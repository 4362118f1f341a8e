"""Streamlit widgets of the Live detector page (the page itself stays thin)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import streamlit as st

from secmlops_core.errors import UserFacingError
from secmlops_core.feed import state as feeds
from secmlops_core.feed.scenarios import SCENARIOS
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now
from secmlops_core.ui.shell import settings, signed_in_fragment
from secmlops_core.ui.text import escape_markdown

WINDOWS = {"5 min": 5, "15 min": 15, "1 hour": 60, "6 hours": 360, "24 hours": 1440, "7 days": 10080}
HEALTH_ICON = {"up": "🟢 up", "stale": "🟠 stale", "down": "🔴 down"}
ALL = "All cameras"


@dataclass(frozen=True)
class LiveView:
    """What the operator chose in the sidebar."""

    window_minutes: int
    camera: str | None
    auto_refresh: bool
    refresh_seconds: float


def sidebar_controls() -> LiveView:
    """Window, camera and refresh choices."""
    statuses = feeds.list_statuses(settings())
    with st.sidebar:
        st.subheader("View")
        window = st.selectbox("KPI window", list(WINDOWS), index=1, key="live:window")
        cameras = [ALL] + [s.camera_id for s in statuses]
        camera = st.selectbox("Camera", cameras, key="live:camera")
        auto = st.toggle("Refresh automatically", value=True, key="live:auto")
        seconds = st.slider("Refresh every (s)", 1, 30, 2, key="live:every", disabled=not auto)
    return LiveView(WINDOWS[window], None if camera == ALL else camera, auto, float(seconds))


def live_dashboard(view: LiveView) -> None:
    """Feed status, latest frames, KPIs and time series; re-runs on its own when auto-refresh is on."""

    @signed_in_fragment(run_every=view.refresh_seconds if view.auto_refresh else None)
    def body():
        _status_table()
        _kpis(view)
        _latest_frames(view)
        _time_series(view)

    body()


def _status_table() -> None:
    statuses = feeds.list_statuses(settings())
    st.subheader("Feeds")
    if not statuses:
        st.info("No camera feed has run yet. Start one with "
                "`secmlops feed --source sample --camera-id sample-1` (or `make run`).")
        return
    rows = []
    for s in statuses:
        retry = ""
        if s.state == "retrying" and s.next_retry_at:
            retry = f"retry #{s.retries} in {max(0.0, s.next_retry_at - time.time()):.0f} s"
        rows.append({"camera": s.camera_id, "status": HEALTH_ICON[s.health], "fps": round(s.fps, 2),
                     "frames": s.frames, "skipped": s.skipped, "scenario": s.scenario, "source": s.source,
                     "model": s.model_id, "device": s.device, "reconnect": retry, "last error": s.last_error})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _window(view: LiveView):
    end = utc_now()
    return end - timedelta(minutes=view.window_minutes), end


def _kpis(view: LiveView) -> None:
    start, end = _window(view)
    try:
        k = query.kpis(start, end, view.camera)
    except Exception as exc:  # a damaged file dropped into the lake by hand must not break the page
        st.warning(f"Telemetry could not be read: {escape_markdown(exc)}")
        return
    cols = st.columns(6)
    cols[0].metric("Frames", f"{k.frames:,}")
    cols[1].metric("FPS", _fmt(k.fps, "{:.2f}"))
    cols[2].metric("Latency p50", _fmt(k.latency_p50_ms, "{:.0f} ms"))
    cols[3].metric("Latency p95", _fmt(k.latency_p95_ms, "{:.0f} ms"))
    cols[4].metric("Pedestrians / frame", _fmt(k.pedestrians_per_frame, "{:.2f}"))
    cols[5].metric("Mean confidence", _fmt(k.mean_confidence, "{:.2f}"))
    st.caption(f"Window: last {view.window_minutes} min (UTC {start:%H:%M:%S}–{end:%H:%M:%S}), "
               f"{k.cameras} camera(s) · {k.method}")


def _fmt(value, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _latest_frames(view: LiveView) -> None:
    statuses = [s for s in feeds.list_statuses(settings()) if view.camera in (None, s.camera_id)]
    shown = [(s, feeds.read_latest_frame(settings(), s.camera_id)) for s in statuses]
    shown = [(s, jpeg) for s, jpeg in shown if jpeg]
    if not shown:
        return
    st.subheader("Latest frames")
    cols = st.columns(min(3, len(shown)))
    for i, (s, jpeg) in enumerate(shown):
        caption = (f"{escape_markdown(s.camera_id)} · {HEALTH_ICON[s.health]} · {escape_markdown(s.scenario)} · "
                   f"{s.last_pedestrians} pedestrian(s) · {s.last_latency_ms:.0f} ms")
        cols[i % len(cols)].image(jpeg, caption=caption, width="stretch")


def _time_series(view: LiveView) -> None:
    start, end = _window(view)
    try:
        frame = query.per_minute(start, end, view.camera, by_camera=view.camera is None)
    except Exception as exc:
        st.warning(f"Telemetry could not be read: {escape_markdown(exc)}")
        return
    if frame.empty:
        st.caption("No telemetry in this window yet.")
        return
    st.subheader("Per minute")
    st.plotly_chart(time_series_figure(frame), width="stretch", key="live:series")


def time_series_figure(frame: pd.DataFrame):
    """Four stacked per-minute panels: pedestrians/frame, p95 latency, FPS, brightness."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = [("pedestrians_per_frame", "Pedestrians / frame"), ("latency_p95_ms", "Latency p95 (ms)"),
              ("fps", "FPS"), ("brightness", "Brightness")]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[title for _, title in panels])
    palette = ["#2dd4bf", "#f59e0b", "#a78bfa", "#f472b6", "#60a5fa", "#34d399"]
    for c, (camera, rows) in enumerate(frame.groupby("camera_id")):
        for r, (column, _) in enumerate(panels, start=1):
            fig.add_trace(go.Scatter(x=rows["minute"], y=rows[column], mode="lines+markers", name=str(camera),
                                     legendgroup=str(camera), showlegend=r == 1,
                                     line={"color": palette[c % len(palette)]}), row=r, col=1)
    fig.update_layout(template="plotly_dark", height=620, margin={"l": 40, "r": 20, "t": 40, "b": 30},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", xaxis4_title="minute (UTC)")
    return fig


def scenario_controls() -> None:
    """Scenario switches for running sample cameras (written to their control file)."""
    running = [s for s in feeds.list_statuses(settings()) if s.source_kind == "sample" and s.health != "down"]
    if not running:
        return
    st.subheader("Sample feed scenarios")
    st.caption("Real image transforms applied before the detector: watch the KPIs and image statistics drift.")
    for s in running:
        key = f"live:scenario:{s.camera_id}"
        choice = st.segmented_control(escape_markdown(s.camera_id), list(SCENARIOS), default=s.scenario, key=key,
                                      format_func=lambda name: name.capitalize(), help=" · ".join(
                                          f"{k}: {v}" for k, v in SCENARIOS.items()))
        if choice and choice != s.scenario:
            try:
                feeds.set_scenario(settings(), s.camera_id, choice)
            except UserFacingError as exc:
                st.error(escape_markdown(exc))
            else:
                st.toast(f"{escape_markdown(s.camera_id)}: switching to {choice}")


@st.cache_resource(show_spinner="Loading the detector (hash-verified)…")
def _detector(weights_id: str):
    from secmlops_core.detector.model import load_detector

    return load_detector(weights_id, settings())


def detect_upload() -> None:
    """Upload one image and run the detector on it once."""
    from secmlops_core.detector.annotate import annotate, to_rgb
    from secmlops_core.detector.images import decode_image_bytes

    st.subheader("Try an image")
    upload = st.file_uploader("Image (JPEG, PNG, BMP, WebP, TIFF)", type=["jpg", "jpeg", "png", "bmp", "webp",
                                                                           "tif", "tiff"], key="live:upload")
    if upload is None:
        return
    try:
        frame = decode_image_bytes(upload.getvalue(), upload.name, settings())
        detector = _detector(settings().default_weights)
        result = detector.predict([frame])[0]
    except UserFacingError as exc:
        st.error(escape_markdown(exc))
        return
    left, right = st.columns([2, 1])
    left.image(to_rgb(annotate(frame, result)), width="stretch",
               caption=f"{escape_markdown(upload.name)}: {result.pedestrians} pedestrian(s)")
    with right:
        st.metric("Pedestrians", result.pedestrians)
        st.metric("Latency", f"{result.latency_ms:.0f} ms ({result.device})")
        st.caption(f"Weights {escape_markdown(result.model_id)} · SHA-256 {result.model_sha256[:16]}…")
        st.dataframe(pd.DataFrame([{"label": d.label, "confidence": d.confidence,
                                    "box": ", ".join(f"{v:.0f}" for v in d.box)} for d in result.detections]),
                     hide_index=True, width="stretch")
        stats = result.stats
        st.caption(f"brightness {stats.brightness:.0f} · contrast {stats.contrast:.0f} · sharpness "
                   f"{stats.sharpness:.0f} · colourfulness {stats.colourfulness:.0f} · entropy {stats.entropy:.2f}")
