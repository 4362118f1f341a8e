"""The Monitoring page's drift reference panel under AppTest: show, pin, clear, refusal for a viewer."""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from tests.app.conftest import run_page


def _app() -> AppTest:
    return run_page("monitoring.py", timeout=90)


def _telemetry() -> None:
    from secmlops_core.settings import get_settings
    from secmlops_core.telemetry.writer import TelemetryWriter, utc_now
    from tests.fixtures.synthetic_telemetry import synthetic_events

    writer = TelemetryWriter(get_settings().telemetry_dir, "cam-a")
    writer.add_many(synthetic_events(utc_now() - timedelta(minutes=80), 480, camera="cam-a", step_s=10.0, seed=1))
    writer.flush()


def test_pin_and_clear_a_reference_on_the_page(secmlops_home, store):
    from secmlops_core.monitoring.reference import get_reference

    _telemetry()
    at = _app()
    assert any("has no drift reference yet" in i.value for i in at.info)
    at.text_input(key="monitoring:pin-note").set_value("clear morning")
    next(b for b in at.button if b.label == "Pin as this camera's reference").click().run()
    assert not at.exception, [e.value for e in at.exception]
    pinned = get_reference(store, "cam-a")
    assert pinned.kind == "pinned" and pinned.note == "clear morning"
    assert any("Pinned" in s.value for s in at.success)
    assert any("pinned by" in m.value and "clear morning" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Clear the pinned reference").click().run()
    assert get_reference(store, "cam-a") is None and not at.exception


def test_a_bad_window_is_a_message(secmlops_home, store):
    _telemetry()
    at = _app()
    at.text_input(key="monitoring:pin-window").set_value("-2h..-3h")
    next(b for b in at.button if b.label == "Pin as this camera's reference").click().run()
    assert any("inverted" in e.value for e in at.error) and not at.exception
