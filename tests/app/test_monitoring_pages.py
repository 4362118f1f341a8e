"""Monitoring, Incidents and Ops wall pages under AppTest: empty home, real drift, incident actions, bad input."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.conftest import run_page


def _app(name: str) -> AppTest:
    return run_page(name, timeout=90)


def _telemetry(shift: float) -> None:
    """~300 reference frames 70..20 min ago and ~280 current frames in the last 14 min (current shifted)."""
    from secmlops_core.settings import get_settings
    from tests.fixtures.synthetic_telemetry import synthetic_events
    from secmlops_core.telemetry.writer import TelemetryWriter, utc_now

    now = utc_now()
    writer = TelemetryWriter(get_settings().telemetry_dir, "cam-a")
    writer.add_many(synthetic_events(now - timedelta(minutes=70), 300, camera="cam-a", step_s=10.0, seed=1))
    current = synthetic_events(now - timedelta(minutes=14), 280, camera="cam-a", step_s=3.0, seed=2)
    for row in current:
        for column, std in (("brightness", 10), ("contrast", 5), ("sharpness", 300), ("colourfulness", 4),
                            ("entropy", 0.1)):
            row[column] += shift * std
    writer.add_many(current)
    writer.flush()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_monitoring_empty_home_gives_a_clear_message(secmlops_home):
    at = _app("monitoring.py")
    assert at.title[0].value == "Monitoring"
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert any("no telemetry" in e.value for e in at.error)


def test_monitoring_bad_windows(secmlops_home):
    at = _app("monitoring.py")
    at.text_input(key="monitoring:reference").set_value("-10m..-20m")
    at.button[0].click().run()
    assert any("inverted" in e.value for e in at.error)
    at.text_input(key="monitoring:reference").set_value("yesterday")
    at.button[0].click().run()
    assert any("START..END" in e.value for e in at.error)
    assert not at.exception


def test_monitoring_flags_real_drift_and_keeps_a_snapshot(secmlops_home):
    _telemetry(shift=2.0)
    at = _app("monitoring.py")
    at.selectbox(key="monitoring:camera").set_value("cam-a")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Dataset drift on cam-a" in e.value for e in at.error)
    table = at.dataframe[0].value
    drifted = set(table.loc[table["drift"] != "ok", "column"])
    assert {"brightness", "contrast", "sharpness", "colourfulness", "entropy"} <= drifted
    assert at.get("plotly_chart")  # distribution + timeline + heat map from the stored snapshot
    _button(at, "Build Evidently's HTML report").click().run()
    assert not at.exception
    assert at.get("download_button")


def test_monitoring_no_drift_in_steady_state(secmlops_home):
    _telemetry(shift=0.0)
    at = _app("monitoring.py")
    at.button[0].click().run()
    assert any("No dataset drift" in s.value for s in at.success)


def test_incident_lifecycle_on_the_page(secmlops_home, store):
    from secmlops_core.monitoring.incidents import get_incident, record_alert
    from secmlops_core.monitoring.rules import load_alert_rules

    rule = load_alert_rules().rules["drift-share"]
    _, incident_id = record_alert(store, rule=rule, dedup_key="cam-a", title="Input drift on cam-a",
                                  camera_id="cam-a", details={"summary": "5/9 columns drifted"})
    at = _app("incidents.py")
    assert at.title[0].value == "Incidents"
    assert any("Runbook" in m.value for m in at.markdown)
    _button(at, "Acknowledge").click().run()
    assert get_incident(store, incident_id).status == "acknowledged"
    at.text_area(key=f"incidents:note:{incident_id}").set_value("camera hood fell over")
    _button(at, "Resolve").click().run()
    assert not at.exception
    incident = get_incident(store, incident_id)
    assert incident.status == "resolved" and incident.time_to_resolve is not None
    mtta = next(m for m in at.metric if m.label == "MTTA")
    assert mtta.value != "–"


def test_ops_wall_renders_empty_and_with_data(secmlops_home):
    at = _app("ops_wall.py")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Feeds up"] == "0/0" and labels["Drift"] == "–"
    _telemetry(shift=0.0)
    at = _app("ops_wall.py")
    labels = {m.label: m.value for m in at.metric}
    assert labels["FPS"] != "–" and labels["p95 latency"].endswith("ms")


def test_ops_wall_text_has_no_emoji(secmlops_home, store):
    from tests.app.test_live_page import PICTOGRAPH, rendered_text

    from secmlops_core.monitoring import incidents

    _telemetry(shift=0.0)
    incidents.open_manual(store, "Camera hood fell over", "high", "ml_engineer")
    at = _app("ops_wall.py")
    texts = rendered_text(at)
    assert texts and not [t for t in texts if PICTOGRAPH.search(t)]
    severity_labels = [m.label for m in at.metric if "critical" in m.label or "high" in m.label]
    assert severity_labels and all(":material/" in label for label in severity_labels)


def test_wall_rotating_panel_heading_and_content_come_from_one_state(secmlops_home):
    from datetime import datetime

    import pandas as pd

    from secmlops_core.monitoring.minutes import MinuteSeries
    from secmlops_core.monitoring.wall_state import WallState
    from secmlops_core.ui import wall

    st.cache_resource.clear()
    interval = wall.refresh_seconds()
    series = MinuteSeries(pd.DataFrame({"minute": [datetime(2026, 3, 1, 20, 1)], "camera_id": ["c1"],
                                        "fps": [2.0], "pedestrians_per_frame": [1.0]}), datetime(2026, 3, 1, 20, 2))
    state_kwargs = {"series": series, "top_incidents": [{"title": "Input drift", "severity": "high", "status": "open",
                                                         "opened_at": None, "occurrences": 2}],
                    "drift": {"cam-1": {"dataset_drift": True, "share": 0.5, "drifted": ["brightness"], "at": None}}}
    seen = {}
    for step in range(len(wall.PANELS)):
        at = datetime.fromtimestamp(step * interval + 1)
        panel = wall.rotating_panel(WallState(at=at, **state_kwargs))
        seen[panel.heading] = panel
    assert seen["Per-minute telemetry"].figure is not None and not seen["Per-minute telemetry"].lines
    assert any("Input drift" in line for line in seen["Active incidents"].lines)
    assert any("cam-1" in line and "DRIFT" in line for line in seen["Drift by camera"].lines)
