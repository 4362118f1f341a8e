"""The Live detector page renders on an empty store and with telemetry, status and a frame present."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.fixtures.synthetic_telemetry import synthetic_events

PAGE = Path(__file__).resolve().parents[2] / "pages" / "live.py"


def _run(secmlops_home) -> AppTest:
    st.cache_resource.clear()  # the shell caches settings per process; each test has its own home
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_renders_on_empty_home(secmlops_home):
    at = _run(secmlops_home)
    assert at.title[0].value == "Live detector"
    assert any("No camera feed has run yet" in i.value for i in at.info)
    assert at.metric[0].label == "Frames" and at.metric[0].value == "0"


def test_renders_with_telemetry_and_feed(secmlops_home):
    from secmlops_core.detector.annotate import encode_jpeg
    from secmlops_core.feed import state
    from secmlops_core.settings import get_settings
    from secmlops_core.telemetry.writer import TelemetryWriter, utc_now

    settings = get_settings()
    writer = TelemetryWriter(settings.telemetry_dir, "cam-a")
    # The KPI window ends on a 2 s bucket shared by all sessions: the last event is a few seconds old.
    writer.add_many(synthetic_events(utc_now() - timedelta(minutes=4, seconds=5), 240, camera="cam-a", step_s=1.0))
    writer.flush()
    now = time.time()
    state.write_status(settings, state.FeedStatus(camera_id="cam-a", state="up", source="sample", source_kind="sample",
                                                  pid=os.getpid(), heartbeat_at=now,
                                                  last_frame_at=now, frames=240, fps=1.0, target_fps=1.0))
    state.write_latest_frame(settings, "cam-a", encode_jpeg(np.full((48, 64, 3), 128, np.uint8)))
    at = _run(secmlops_home)
    frames = next(m for m in at.metric if m.label == "Frames")
    assert frames.value == "240"
    assert any("up" in str(v) for v in at.dataframe[0].value["status"])
    assert at.get("imgs") or at.get("image")  # latest frame shown
    assert at.get("plotly_chart")
    # scenario switch writes the control file the runner polls
    control = at.get("button_group")
    assert control, "scenario control missing"
    control[0].set_value("night").run()
    assert not at.exception
    assert state.read_control(settings, "cam-a")["scenario"] == "night"


@pytest.mark.parametrize("window", ["5 min", "7 days"])
def test_window_choice(secmlops_home, window):
    at = _run(secmlops_home)
    at.sidebar.selectbox(key="live:window").set_value(window).run()
    assert not at.exception


# Pictographs a kiosk without an emoji font draws as boxes (geometric shapes, symbols, dingbats, emoji).
PICTOGRAPH = re.compile("[\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f]")


def rendered_text(at: AppTest) -> list[str]:
    """Every text an AppTest run shows: Markdown, captions, headings, metrics, alerts, dataframe cells."""
    texts = [e.value for kind in ("markdown", "caption", "title", "subheader", "info", "warning", "success", "error")
             for e in at.get(kind)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    texts += [frame.value.to_csv() for frame in at.dataframe]
    return texts


def test_live_text_has_no_emoji(secmlops_home):
    test_renders_with_telemetry_and_feed(secmlops_home)
    at = _run(secmlops_home)
    found = [t for t in rendered_text(at) if PICTOGRAPH.search(t)]
    assert not found, found
    assert any(":material/" in t for t in rendered_text(at)), "status marks are Material icons"


def test_per_minute_chart_axis_is_24_hour_utc_and_series_stay_apart():
    from datetime import datetime

    import pandas as pd

    from secmlops_core.monitoring.minutes import complete_minutes
    from secmlops_core.ui.charts import OKABE_ITO
    from secmlops_core.ui.live import time_series_figure

    minutes = [datetime(2026, 3, 1, 20, m) for m in range(10, 16)]
    frame = pd.DataFrame([{"minute": m, "camera_id": cam, "fps": 2.0, "pedestrians_per_frame": 1.0,
                           "latency_p95_ms": 100.0, "brightness": 110.0} for m in minutes for cam in ("c1", "c2")])
    series = complete_minutes(frame, datetime(2026, 3, 1, 20, 15, 30))  # 20:15 is in progress
    fig = time_series_figure(series, datetime(2026, 3, 1, 20, 0), datetime(2026, 3, 1, 20, 15, 30))
    layout = fig.to_dict()["layout"]
    axes = [v for k, v in layout.items() if k.startswith("xaxis")]
    assert axes and all(a["tickformat"] == "%H:%M" for a in axes)  # 24-hour clock, no AM/PM
    bottom = next(a for a in axes if a.get("title", {}).get("text"))
    assert "UTC" in bottom["title"]["text"] and "partial minute 20:15 not drawn" in bottom["title"]["text"]
    assert max(x for trace in fig.data for x in trace.x) == datetime(2026, 3, 1, 20, 14)
    styles = {(t.name, t.line.color, t.line.dash, t.marker.symbol) for t in fig.data}
    by_camera = {name: (color, dash, symbol) for name, color, dash, symbol in styles}
    assert len(by_camera) == 2 and len(set(by_camera.values())) == 2
    colours, dashes = {v[0] for v in by_camera.values()}, {v[1] for v in by_camera.values()}
    assert colours <= set(OKABE_ITO) and len(colours) == 2 and len(dashes) == 2  # colour and a second cue
