"""Drift: windows, Evidently parity (raw and binned), bad input, and the real runner under night/fog."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import cv2
import numpy as np
import pytest

from secmlops_core.errors import UserFacingError
from secmlops_core.monitoring import drift
from tests.fixtures.drift_windows import write_window
from secmlops_core.monitoring.windows import Window, make_window, parse_window
from secmlops_core.telemetry import query

NOW = datetime(2026, 3, 1, 12, 0, 0)
# Known shifts (in standard deviations, or share of counts zeroed), some on purpose close to 0.1.
SHIFTS = {"brightness": 0.3, "contrast": 0.093, "sharpness": 0.108, "entropy": 0.04, "pedestrians": 0.2,
          "latency_ms": 0.125}


def rolling_windows(now: datetime, current_minutes: float = 15, reference_minutes: float = 60) -> tuple[Window, Window]:
    """(reference, current): the last ``current_minutes``, and the ``reference_minutes`` before it."""
    current = make_window(now - timedelta(minutes=current_minutes), now, "current window")
    return make_window(current.start - timedelta(minutes=reference_minutes), current.start, "reference window"), current


def test_windows_parse_relative_iso_and_refuse_bad_input():
    w = parse_window("-2h..-1h", NOW)
    assert w == Window(datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 11))
    assert parse_window("2026-03-01T10:00+01:00..now", NOW).start == datetime(2026, 3, 1, 9)
    for bad, message in (("-1h..-2h", "inverted"), ("-1h..-1h", "inverted"), ("yesterday..now", "not a time"),
                         ("-1h", "START..END"), ("", "START..END")):
        with pytest.raises(UserFacingError, match=message):
            parse_window(bad, NOW)
    with pytest.raises(UserFacingError, match="limit"):
        make_window(NOW - timedelta(days=500), NOW)
    ref, cur = rolling_windows(NOW, current_minutes=15, reference_minutes=60)
    assert cur.end == NOW and ref.end == cur.start and ref.span == timedelta(hours=1)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    ref = Window(*write_window(root, datetime(2026, 1, 1, 0), 60_000, camera="cam-a", seed=1))
    cur = Window(*write_window(root, datetime(2026, 1, 1, 2), 60_000, camera="cam-a", seed=2, shifts=SHIFTS))
    same = Window(*write_window(root, datetime(2026, 1, 1, 4), 60_000, camera="cam-a", seed=3))
    return root, ref, cur, same


def _full(root, window):
    return query.events_frame(window.start, window.end, columns=list(drift.FEATURES), telemetry_dir=root)


def test_binned_verdicts_equal_raw_evidently_report_on_full_data(lake):
    root, ref, cur, same = lake
    for current in (cur, same):
        binned = drift.compute_drift(ref, current, telemetry_dir=root)
        assert binned.mode == "binned" and binned.reference_rows == 60_000
        _, oracle = drift.run_evidently(_full(root, ref), _full(root, current), list(drift.FEATURES))
        expected = {c: drift.is_drifted(*v[0:1], v[2], v[1]) for c, v in oracle.items()}
        assert binned.verdicts() == expected
        for col in binned.columns:
            assert col.test == oracle[col.column][0]
            assert col.score == pytest.approx(oracle[col.column][2], abs=0.01)
    binned = drift.compute_drift(ref, cur, telemetry_dir=root)
    assert set(binned.drifted_columns) == {"brightness", "sharpness", "pedestrians", "latency_ms"}
    assert {c.basis for c in binned.columns} <= {"quantile summary", "full data (near threshold)"}
    assert not drift.compute_drift(ref, same, telemetry_dir=root).drifted_columns


def test_scores_near_the_threshold_are_recomputed_on_every_row(lake, monkeypatch):
    root, ref, cur, _ = lake
    margin = drift.summary_margin("wasserstein", 0.1, drift.binning.bin_spec(0, 100, False),
                                  np.random.default_rng(0).normal(50, 10, 10_000), 10_000)
    assert 0.002 < margin < 0.02  # ~5 % of the threshold for N(50, 10) on [0, 100]
    summary = drift.compute_drift(ref, cur, telemetry_dir=root)
    monkeypatch.setattr(drift, "MIN_BORDER", 0.5)  # everything within 50 % of 0.1 counts as near
    exact = drift.compute_drift(ref, cur, telemetry_dir=root)
    bases = {c.column: c.basis for c in exact.columns}
    assert bases["contrast"] == bases["sharpness"] == bases["latency_ms"] == "full data (near threshold)"
    assert bases["brightness"] == "quantile summary"  # 0.3 is far from 0.1
    assert exact.verdicts() == summary.verdicts()


def test_raw_mode_matches_evidently_report_exactly(lake):
    root, ref, cur, _ = lake
    ref_small = Window(ref.start, ref.start + timedelta(minutes=5))  # ~5,000 rows: Evidently on every row
    cur_small = Window(cur.start, cur.start + timedelta(minutes=5))
    result = drift.compute_drift(ref_small, cur_small, "cam-a", telemetry_dir=root)
    assert result.mode == "raw"
    _, oracle = drift.run_evidently(result.reference_data, result.current_data, list(drift.FEATURES))
    for col in result.columns:
        assert (col.test, col.threshold) == oracle[col.column][:2]
        assert col.score == pytest.approx(oracle[col.column][2], rel=1e-9)
    tiny = Window(ref.start, ref.start + timedelta(seconds=30))  # ~500 rows: K-S p-values
    assert drift.compute_drift(tiny, tiny, telemetry_dir=root).columns[0].test == "K-S p_value"
    assert "<html" in result.html()[:2000].lower()


def test_bad_input_gives_clear_messages(lake):
    root, ref, cur, _ = lake
    with pytest.raises(UserFacingError, match="unknown camera 'nope'.*cam-a"):
        drift.compute_drift(ref, cur, "nope", telemetry_dir=root)
    empty = Window(datetime(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(UserFacingError, match="reference window .* has no telemetry"):
        drift.compute_drift(empty, cur, telemetry_dir=root)
    few = Window(ref.start, ref.start + timedelta(seconds=1))
    with pytest.raises(UserFacingError, match=r"only \d+ frame.*at least 30"):
        drift.compute_drift(ref, few, telemetry_dir=root)
    with pytest.raises(UserFacingError, match="unknown drift column"):
        drift.compute_drift(ref, cur, columns=["height"], telemetry_dir=root)


def test_column_without_values_is_skipped_not_fatal(tmp_path):
    import pyarrow as pa

    from tests.fixtures.synthetic_telemetry import synthetic_table
    from secmlops_core.telemetry.writer import TelemetryWriter

    writer = TelemetryWriter(tmp_path, "cam-b")
    writer.add_many(synthetic_table(datetime(2026, 1, 1), 200, camera="cam-b").to_pylist())
    rows = synthetic_table(datetime(2026, 1, 1, 1), 200, camera="cam-b").to_pylist()
    for row in rows:  # the lens is covered: nothing detected, so no confidence at all
        row.update(pedestrians=0, detections=0, mean_confidence=None, min_confidence=None, class_counts=[])
    writer.add_many(rows)
    writer.flush()
    result = drift.compute_drift(Window(datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 30)),
                                 Window(datetime(2026, 1, 1, 1), datetime(2026, 1, 1, 1, 30)), telemetry_dir=tmp_path)
    assert result.skipped == {"mean_confidence": "no values in the current window"}
    assert "pedestrians" in result.drifted_columns and pa is not None


# -- the real runner and detector -------------------------------------------------------------
@pytest.mark.slow
def test_real_runner_drift_flagged_for_night_and_fog_not_in_steady_state(tmp_path):
    """Sample frames through the real FeedRunner and detector; 14 frames per window (~30 s in all)."""
    from secmlops_core.feed.runner import FeedRunner
    from secmlops_core.feed.sources import SampleSource, open_source
    from secmlops_core.settings import load_settings
    from secmlops_core.telemetry.writer import utc_now

    settings = load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})
    settings.ensure_dirs()
    sample = SampleSource("sample", settings)
    sample.open()

    def folder(name: str, offset: int) -> str:
        path = tmp_path / name
        path.mkdir()
        for i in range(14):  # both sample scenes (they alternate every 40 frame indices)
            cv2.imwrite(str(path / f"{i:03d}.jpg"), sample.frame_at(offset + 6 * i))
        return str(path)

    reference_dir, steady_dir = folder("reference", 0), folder("steady", 3)
    windows = {}
    for name, source, scenario in (("reference", reference_dir, "normal"), ("steady", steady_dir, "normal"),
                                   ("night", steady_dir, "night"), ("fog", steady_dir, "fog")):
        start = utc_now()
        FeedRunner(open_source(source, settings), "cam-real", settings, scenario=scenario).run()
        windows[name] = Window(start, utc_now() + timedelta(microseconds=1))
    results = {name: drift.compute_drift(windows["reference"], windows[name], "cam-real", min_rows=10,
                                         telemetry_dir=settings.telemetry_dir) for name in ("steady", "night", "fog")}
    assert not results["steady"].dataset_drift, results["steady"].as_dict()
    assert "brightness" not in results["steady"].drifted_columns
    assert results["night"].dataset_drift and "brightness" in results["night"].drifted_columns
    assert results["fog"].dataset_drift and "contrast" in results["fog"].drifted_columns
    shutil.rmtree(tmp_path / "reference")
    assert np.isfinite(results["night"].drift_share)
