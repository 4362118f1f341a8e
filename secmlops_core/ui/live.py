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
from secmlops_core.monitoring.minutes import MinuteSeries, minute_series
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now
from secmlops_core.ui.charts import per_minute_figure
from secmlops_core.ui.shell import settings, signed_in_fragment
from secmlops_core.ui.text import escape_markdown

WINDOWS = {"5 min": 5, "15 min": 15, "1 hour": 60, "6 hours": 360, "24 hours": 1440, "7 days": 10080}
# Marks are Material icons (Streamlit ships the font) and words; dataframe cells take plain words.
HEALTH_MARK = {"up": ":green[:material/check_circle:] up", "stale": ":orange[:material/schedule:] stale",
               "down": ":red[:material/cancel:] down"}
ALL = "All cameras"
SERIES_PANELS = [("pedestrians_per_frame", "Pedestrians / frame"), ("latency_p95_ms", "Latency p95 (ms)"),
                 ("fps", "FPS"), ("brightness", "Brightness")]
# Telemetry answers shared by every session of this process for a few seconds (keyed by window,
# camera and a time bucket), so several open Live pages cost one query per bucket.
KPI_BUCKET_S = 2
SERIES_BUCKET_S = 10

# Static CSS: the latest frame sits in a fixed box, letterboxed, so the KPIs and tabs stay above the fold.
_CSS = """
<style>
[class*="st-key-live-frames"] [data-testid="stElementContainer"]:has(img),
[class*="st-key-live-frames"] [data-testid="stElementContainer"]:has(img) div {
  width: 100% !important; max-width: 100% !important; }
[class*="st-key-live-frames"] [data-testid="stImageContainer"] { background: #000; border-radius: 6px; }
[class*="st-key-live-frames"] img { width: 100% !important; max-width: 100% !important; height: 46vh !important;
  object-fit: contain; display: block; }
.st-key-live-frames-many img { height: 22vh !important; }
/* the dashboard refreshes itself every few seconds: no fading of the previous values meanwhile */
.stElementContainer[data-stale="true"] { opacity: 1 !important; transition: none !important; }
[class*="st-key-live-frames"] [data-testid="stMarkdownContainer"] p { margin: 0; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
</style>
"""


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


def _every(view: LiveView, at_least: float = 0.0) -> float | None:
    return max(view.refresh_seconds, at_least) if view.auto_refresh else None


def live_dashboard(view: LiveView) -> None:
    """Above the fold: latest frames with their feed's status, and the KPIs; refreshes on its own."""
    st.markdown(_CSS, unsafe_allow_html=True)

    @signed_in_fragment(run_every=_every(view))
    def body():
        statuses = [s for s in feeds.list_statuses(settings()) if view.camera in (None, s.camera_id)]
        left, right = st.columns([3, 2])
        with left:
            _latest_frames(statuses)
        with right:
            _kpis(view)

    body()


def live_tabs(view: LiveView) -> None:
    """Below the frame: the per-minute chart, the feeds table, scenario switches and a one-off detection."""
    chart, table, scenarios, upload = st.tabs([":material/show_chart: Per minute", ":material/table: Feeds",
                                               ":material/tune: Scenarios", ":material/image_search: Try an image"])
    with chart:
        signed_in_fragment(run_every=_every(view, at_least=SERIES_BUCKET_S))(lambda: _time_series(view))()
    with table:
        signed_in_fragment(run_every=_every(view, at_least=5.0))(_status_table)()
    with scenarios:
        scenario_controls()
    with upload:
        detect_upload()


def _status_table() -> None:
    statuses = feeds.list_statuses(settings())
    if not statuses:
        st.info("No camera feed has run yet. Start one with "
                "`secmlops feed --source sample --camera-id sample-1` (or `make run`).")
        return
    rows = []
    for s in statuses:
        retry = ""
        if s.state == "retrying" and s.next_retry_at:
            retry = f"retry #{s.retries} in {max(0.0, s.next_retry_at - time.time()):.0f} s"
        rows.append({"camera": s.camera_id, "status": s.health, "fps": round(s.fps, 2),
                     "frames": s.frames, "skipped": s.skipped, "scenario": s.scenario,
                     "source": _source_text(s), "note": _source_note(s) or "",
                     "model": s.model_id, "device": s.device, "reconnect": retry, "last error": s.last_error})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _source_text(status) -> str:
    return getattr(status, "source_description", "") or status.source


def _source_note(status) -> str | None:
    return getattr(status, "source_note", None)


def _window(view: LiveView, bucket_s: float):
    end = utc_now()
    end = end - timedelta(seconds=end.timestamp() % bucket_s)
    return end - timedelta(minutes=view.window_minutes), end


@st.cache_data(ttl=KPI_BUCKET_S * 3, max_entries=32, show_spinner=False)
def _shared_kpis(start, end, camera: str | None, telemetry_dir: str):
    return query.kpis(start, end, camera)


@st.cache_data(ttl=SERIES_BUCKET_S * 3, max_entries=32, show_spinner=False)
def _shared_series_chart(start, end, camera: str | None, by_camera: bool, telemetry_dir: str
                         ) -> tuple[MinuteSeries, dict | None]:
    """The window's whole minutes and their chart (as a plotly dict), built once per bucket for all sessions."""
    series = minute_series(start, end, camera, by_camera=by_camera)
    return series, None if series.empty else time_series_figure(series, start, end).to_dict()


def _kpis(view: LiveView) -> None:
    start, end = _window(view, KPI_BUCKET_S)
    try:
        k = _shared_kpis(start, end, view.camera, str(settings().telemetry_dir))
    except Exception as exc:  # a damaged file dropped into the lake by hand must not break the page
        st.warning(f"Telemetry could not be read: {escape_markdown(exc)}")
        return
    for row in ((("Frames", f"{k.frames:,}"), ("FPS", _fmt(k.fps, "{:.2f}")),
                 ("Pedestrians / frame", _fmt(k.pedestrians_per_frame, "{:.2f}"))),
                (("Latency p50", _fmt(k.latency_p50_ms, "{:.0f} ms")),
                 ("Latency p95", _fmt(k.latency_p95_ms, "{:.0f} ms")),
                 ("Mean confidence", _fmt(k.mean_confidence, "{:.2f}")))):
        for col, (label, value) in zip(st.columns(3), row):
            col.metric(label, value)
    st.caption(f"Window: last {view.window_minutes} min (UTC {start:%H:%M:%S}–{end:%H:%M:%S}), "
               f"{k.cameras} camera(s) · {k.method}")


def _fmt(value, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _latest_frames(statuses) -> None:
    if not statuses:
        st.info("No camera feed has run yet. Start one with "
                "`secmlops feed --source sample --camera-id sample-1` (or `make run`).")
        return
    shown = [(s, feeds.read_latest_frame(settings(), s.camera_id)) for s in statuses[:4]]
    per_row = 1 if len(shown) == 1 else 2
    with st.container(key="live-frames" if len(shown) == 1 else "live-frames-many"):
        for row_start in range(0, len(shown), per_row):
            for col, (s, jpeg) in zip(st.columns(per_row), shown[row_start:row_start + per_row]):
                with col:
                    if jpeg:
                        st.image(jpeg, width="stretch")
                    else:
                        st.caption(f"No frame from {escape_markdown(s.camera_id)} yet.")
                    st.markdown(f"{escape_markdown(s.camera_id)} · {HEALTH_MARK[s.health]} · "
                                f"{escape_markdown(s.scenario)} · {s.last_pedestrians} pedestrian(s) · "
                                f"{s.last_latency_ms:.0f} ms · {s.fps:.1f} fps")
                    note = _source_note(s)
                    st.caption(f":orange[:material/info:] {escape_markdown(note)}" if note
                               else escape_markdown(_source_text(s)))
    if len(statuses) > 4:
        st.caption(f"{len(statuses) - 4} more camera(s): choose one in the sidebar.")


def _time_series(view: LiveView) -> None:
    start, end = _window(view, SERIES_BUCKET_S)
    try:
        series, figure = _shared_series_chart(start, end, view.camera, view.camera is None,
                                              str(settings().telemetry_dir))
    except Exception as exc:
        st.warning(f"Telemetry could not be read: {escape_markdown(exc)}")
        return
    if series.empty:
        note = "No whole minute of telemetry in this window yet."
        if series.partial_minute is not None:
            note += f" The minute in progress ({series.partial_minute:%H:%M} UTC) is partial and not drawn."
        st.caption(note)
        return
    st.plotly_chart(figure, width="stretch", key="live:series")


def time_series_figure(series: MinuteSeries, start=None, end=None):
    """Four stacked per-minute panels: pedestrians/frame, p95 latency, FPS, brightness (24-hour UTC axis)."""
    return per_minute_figure(series, SERIES_PANELS, start=start, end=end, height=620)


def scenario_controls() -> None:
    """Scenario switches for running sample cameras (written to their control file)."""
    running = [s for s in feeds.list_statuses(settings()) if s.source_kind == "sample" and s.health != "down"]
    if not running:
        st.caption("No sample camera is running: scenarios apply to sample cameras only.")
        return
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
