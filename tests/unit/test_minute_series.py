"""Chart series leave the unfinished minute out (and say so) instead of drawing it as an FPS drop."""

from __future__ import annotations

from datetime import datetime, timedelta

from secmlops_core.monitoring.minutes import complete_minutes, floor_minute, minute_series
from secmlops_core.telemetry.writer import TelemetryWriter
from tests.fixtures.synthetic_telemetry import synthetic_events


def _lake(tmp_path, start: datetime, seconds: int):
    writer = TelemetryWriter(tmp_path / "telemetry", "cam-m")
    writer.add_many(synthetic_events(start, seconds, camera="cam-m", step_s=1.0))  # 1 frame per second
    writer.flush()
    return tmp_path / "telemetry"


def test_partial_last_minute_is_left_out_and_named(tmp_path):
    start = datetime(2026, 3, 1, 20, 10)
    lake = _lake(tmp_path, start, 5 * 60)
    end = datetime(2026, 3, 1, 20, 14, 20)  # 20 s into 20:14
    series = minute_series(start, end, telemetry_dir=lake)
    minutes = list(series.rows["minute"])
    assert minutes == [datetime(2026, 3, 1, 20, m) for m in range(10, 14)]
    assert series.partial_minute == datetime(2026, 3, 1, 20, 14)
    # every drawn minute is whole: 60 frames at 1 fps, no drop at the end
    assert list(series.rows["frames"]) == [60, 60, 60, 60]
    assert (series.rows["fps"].round(6) == 1.0).all()


def test_window_start_is_floored_so_the_first_minute_is_whole(tmp_path):
    start = datetime(2026, 3, 1, 20, 10)
    lake = _lake(tmp_path, start, 5 * 60)
    series = minute_series(start + timedelta(seconds=40), datetime(2026, 3, 1, 20, 15), telemetry_dir=lake)
    assert series.rows["frames"].iloc[0] == 60
    assert series.partial_minute is None  # 20:15:00 is a boundary: 20:14 is complete
    assert len(series.rows) == 5


def test_complete_minutes_on_an_empty_frame():
    import pandas as pd

    series = complete_minutes(pd.DataFrame(columns=["minute", "fps"]), datetime(2026, 3, 1, 20, 0, 5))
    assert series.empty and series.partial_minute is None
    assert floor_minute(datetime(2026, 3, 1, 20, 0, 59, 9)) == datetime(2026, 3, 1, 20, 0)
