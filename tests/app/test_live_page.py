"""The Live detector page renders on an empty store and with telemetry, status and a frame present."""

from __future__ import annotations

import os
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
    writer.add_many(synthetic_events(utc_now() - timedelta(minutes=4), 240, camera="cam-a", step_s=1.0))
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
