"""Telemetry reads that race compaction: a file merged away between listing and reading is read again
on a fresh snapshot, so every read returns the right rows; a read that keeps losing the race says so
in a sentence."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from secmlops_core.errors import UserFacingError
from secmlops_core.monitoring.drift import compute_drift
from secmlops_core.monitoring.windows import Window
from secmlops_core.telemetry import lake, query
from secmlops_core.telemetry.lake import LakeFile
from secmlops_core.telemetry.writer import TelemetryWriter
from tests.fixtures.synthetic_telemetry import synthetic_table

T0 = datetime(2026, 3, 2, 10, 0, 0)
WINDOW = (T0, T0 + timedelta(minutes=30))  # the fixed rows; new rows land in the same hour, after it
FIXED_ROWS = 6000
OPEN_HOUR = T0 + timedelta(minutes=59)  # compaction keeps re-merging the open hour's file
RACES_WANTED = 3
MAX_SECONDS = 60
MIN_ROUNDS = 10
COMPACT_EVERY_S = 0.1


def _fixed_rows(root: Path) -> None:
    writer = TelemetryWriter(root, "cam-a", flush_interval_s=0)
    table = synthetic_table(T0, FIXED_ROWS, "cam-a", step_s=0.3)
    for offset in range(0, FIXED_ROWS, 500):
        writer.write_table(table.slice(offset, 500))
    lake.compact(root, now=OPEN_HOUR, min_segment_age_s=0)
    assert [f.kind for f in lake.snapshot(root)[0]] == ["hour"]


def _reads(root: Path) -> dict[str, int]:
    """Rows of the fixed window seen by each kind of read the pages make."""
    per_minute = query.per_minute(*WINDOW, telemetry_dir=root)
    with query.connect(*WINDOW, telemetry_dir=root) as con:
        counted = con.execute("SELECT count(*) FROM events WHERE ts >= ? AND ts < ?", list(WINDOW)).fetchone()[0]
    return {"kpis": query.kpis(*WINDOW, telemetry_dir=root).frames,
            "events_frame": len(query.events_frame(*WINDOW, columns=["ts"], telemetry_dir=root)),
            "per_minute": int(per_minute["frames"].sum()),
            "camera_activity": int(query.camera_activity(*WINDOW, telemetry_dir=root)["frames"].sum()),
            "connect": int(counted)}


def test_every_read_survives_files_merged_away_by_a_concurrent_compaction(tmp_path, monkeypatch):
    root = tmp_path / "t"
    _fixed_rows(root)
    races = []
    vanished = query._vanished

    def counting(exc):
        seen = vanished(exc)
        if seen:
            races.append(str(exc).splitlines()[0])
        return seen

    monkeypatch.setattr(query, "_vanished", counting)
    stop, problems, swaps = threading.Event(), [], []

    def writer():  # rows of another camera later in the same hour: compaction has work on every pass
        out, n = TelemetryWriter(root, "cam-b", flush_interval_s=0), 0
        while not stop.is_set():
            out.write_table(synthetic_table(T0 + timedelta(minutes=40, seconds=n % 1000), 20, "cam-b", 0.05, seed=n))
            n += 1
            time.sleep(0.02)

    def compactor():  # a pass every COMPACT_EVERY_S (a feed runner compacts every 30 s)
        while not stop.wait(COMPACT_EVERY_S):
            try:
                swaps.append(lake.compact(root, now=OPEN_HOUR, min_segment_age_s=0).merged_hours)
            except Exception as exc:  # reported by the assertion below
                problems.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=compactor)]
    for thread in threads:
        thread.start()
    results, drift_rows = [], []
    deadline = time.monotonic() + MAX_SECONDS
    try:
        while (len(races) < RACES_WANTED or len(results) < MIN_ROUNDS) and time.monotonic() < deadline:
            try:
                results.append(_reads(root))
                if len(results) % 5 == 1:
                    half = T0 + timedelta(minutes=15)
                    drift = compute_drift(Window(T0, half), Window(half, WINDOW[1]), "cam-a", telemetry_dir=root)
                    drift_rows.append(drift.reference_rows + drift.current_rows)
            except Exception as exc:
                problems.append(exc)
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    print(f"{len(results)} rounds of reads, {len(races)} read(s) lost a file to compaction and read again, "
          f"{sum(swaps)} merges")
    assert not problems, problems
    assert sum(swaps) > 10, "compaction must have replaced the hour's file many times"
    assert len(races) >= RACES_WANTED, f"only {len(races)} read(s) lost a file to compaction in {MAX_SECONDS} s"
    assert results and all(r == dict.fromkeys(r, FIXED_ROWS) for r in results), results
    assert drift_rows and set(drift_rows) == {FIXED_ROWS}


def test_a_read_that_keeps_losing_its_files_says_so_in_a_sentence(tmp_path, monkeypatch):
    root = tmp_path / "t"
    _fixed_rows(root)
    gone = LakeFile(root / "events" / "date=2026-03-02" / "hour-10-merged-away.parquet", T0.date(), 10, "hour")
    calls = []

    def stale_snapshot(*args, **kwargs):
        calls.append(args)
        return [gone], []

    @contextmanager
    def stale_pinned_snapshot(*args, **kwargs):
        yield stale_snapshot(*args)

    monkeypatch.setattr(query, "snapshot", stale_snapshot)
    monkeypatch.setattr(query, "pinned_snapshot", stale_pinned_snapshot)
    monkeypatch.setattr(query, "RETRY_PAUSE_S", 0.0)
    for read in (lambda: query.kpis(*WINDOW, telemetry_dir=root),
                 lambda: compute_drift(Window(T0, T0 + timedelta(minutes=15)),
                                       Window(T0 + timedelta(minutes=15), WINDOW[1]), telemetry_dir=root)):
        calls.clear()
        with pytest.raises(query.TelemetryReadError) as info:
            read()
        assert len(calls) == query.READ_ATTEMPTS  # a fresh snapshot per attempt, bounded
        assert isinstance(info.value, UserFacingError) and isinstance(info.value, OSError)
        message = str(info.value)
        assert message.startswith("The telemetry files of this window were gone") and "IO Error" not in message
