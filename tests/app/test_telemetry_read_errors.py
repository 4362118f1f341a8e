"""Pages that read telemetry show a read that kept losing its files to compaction as a sentence,
never as an exception box."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import run_page

SENTENCE = "The telemetry files of this window were gone by the time they were read"


@pytest.fixture()
def files_always_merged_away(secmlops_home, monkeypatch):
    """Real telemetry, but every listing names a file compaction has just merged away."""
    from secmlops_core.settings import get_settings
    from secmlops_core.telemetry import query
    from secmlops_core.telemetry.lake import LakeFile
    from secmlops_core.telemetry.writer import TelemetryWriter, utc_now
    from tests.fixtures.synthetic_telemetry import synthetic_events

    settings = get_settings()
    now = utc_now()
    writer = TelemetryWriter(settings.telemetry_dir, "cam-a")
    writer.add_many(synthetic_events(now - timedelta(minutes=70), 600, camera="cam-a", step_s=6.0, seed=1))
    writer.flush()
    gone = LakeFile(settings.telemetry_dir / "events" / f"date={now:%Y-%m-%d}" / "hour-00-merged-away.parquet",
                    now.date(), 0, "hour")

    def stale(*_args, **_kwargs):
        return [gone], []

    @contextmanager
    def stale_pinned(*_args, **_kwargs):
        yield stale()

    monkeypatch.setattr(query, "snapshot", stale)
    monkeypatch.setattr(query, "pinned_snapshot", stale_pinned)
    monkeypatch.setattr(query, "RETRY_PAUSE_S", 0.0)


def _app(name: str) -> AppTest:
    return run_page(name, timeout=90)


def test_monitoring_says_the_drift_read_failed_in_a_sentence(files_always_merged_away):
    at = _app("monitoring.py")
    assert any(SENTENCE in c.value for c in at.caption)  # the camera list could not be read
    at.button[0].click().run()  # Compute drift
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith(SENTENCE) for e in at.error)


def test_live_says_the_kpi_and_series_reads_failed_in_a_sentence(files_always_merged_away):
    at = _app("live.py")
    assert any(SENTENCE in w.value for w in at.warning), [w.value for w in at.warning]
