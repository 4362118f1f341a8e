"""The telemetry lake: writes, exact and rolled-up queries, compaction, crash recovery, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from secmlops_core.telemetry import lake, query
from tests.fixtures.synthetic_telemetry import synthetic_events, synthetic_table
from secmlops_core.telemetry.writer import TelemetryWriter

T0 = datetime(2026, 3, 2, 10, 0, 0)
REPO = Path(__file__).resolve().parents[2]


def _fill(root: Path, start=T0, count=3 * 3600, camera="cam-a", step_s=1.0, per_segment=300, seed=0):
    writer = TelemetryWriter(root, camera, flush_interval_s=0)
    table = synthetic_table(start, count, camera, step_s, seed)
    for offset in range(0, count, per_segment):
        chunk = table.slice(offset, per_segment)
        first = chunk.column("ts")[0].as_py()
        last = chunk.column("ts")[-1].as_py()
        if first.hour == last.hour:
            writer.write_table(chunk)
        else:
            writer.add_many([{**r, "class_counts": dict(r["class_counts"])} for r in chunk.to_pylist()])
            writer.flush()
    return table


def test_writer_and_exact_kpis(tmp_path):
    root = tmp_path / "t"
    writer = TelemetryWriter(root, "cam-a", flush_interval_s=0)
    writer.add_many(synthetic_events(T0, 600, "cam-a", 0.5))
    assert writer.flush() == 600 and writer.flush() == 0
    k = query.kpis(T0, T0 + timedelta(minutes=10), telemetry_dir=root)
    frame = query.events_frame(T0, T0 + timedelta(minutes=10), telemetry_dir=root)
    assert k.frames == len(frame) == 600 and k.cameras == 1 and k.method.startswith("exact")
    assert k.fps == pytest.approx(2.0, rel=1e-3)
    assert k.latency_p95_ms == pytest.approx(frame["latency_ms"].quantile(0.95), rel=1e-6)
    assert k.pedestrians_per_frame == pytest.approx(frame["pedestrians"].mean())
    assert k.mean_confidence == pytest.approx(frame["mean_confidence"].mean())
    assert query.kpis(T0, T0 + timedelta(minutes=1), camera="other", telemetry_dir=root).frames == 0


def test_empty_lake_queries(tmp_path):
    root = tmp_path / "empty"
    assert query.kpis(T0, T0 + timedelta(hours=1), telemetry_dir=root).frames == 0
    assert query.kpis(T0, T0 + timedelta(days=30), telemetry_dir=root).frames == 0
    assert query.per_minute(T0, T0 + timedelta(hours=1), telemetry_dir=root).empty
    assert query.events_frame(T0, T0 + timedelta(hours=1), telemetry_dir=root).empty
    assert query.camera_activity(T0, T0 + timedelta(hours=1), telemetry_dir=root).empty


def test_compaction_keeps_every_event_and_rollups_match_raw(tmp_path):
    root = tmp_path / "t"
    _fill(root)
    _fill(root, camera="cam-b", count=3600, seed=1)
    window = (T0, T0 + timedelta(hours=3))
    before = query.per_minute(*window, by_camera=True, telemetry_dir=root)
    exact = query.kpis(*window, telemetry_dir=root)
    report = lake.compact(root, now=T0 + timedelta(hours=2, minutes=30), min_segment_age_s=0)
    assert report.merged_hours == 3 and report.rollups_written == 2  # hour 12 is still open
    events, rollups = lake.snapshot(root)
    assert sorted(f.kind for f in events) == ["hour", "hour", "hour"] and len(rollups) == 2
    after = query.per_minute(*window, by_camera=True, telemetry_dir=root)
    assert after[["minute", "camera_id", "frames"]].equals(before[["minute", "camera_id", "frames"]])
    assert after["latency_p95_ms"].to_numpy() == pytest.approx(before["latency_p95_ms"].to_numpy())
    long = query.kpis(T0 - timedelta(days=1), T0 + timedelta(days=1), telemetry_dir=root)
    assert long.method.startswith("per-minute rollups")
    assert long.frames == exact.frames == 3 * 3600 + 3600
    assert long.pedestrians_per_frame == pytest.approx(exact.pedestrians_per_frame)
    assert long.mean_confidence == pytest.approx(exact.mean_confidence)
    assert long.latency_p95_ms == pytest.approx(exact.latency_p95_ms, rel=0.09)
    assert long.fps == pytest.approx(exact.fps, rel=1e-3)
    merged = query.per_minute(*window, telemetry_dir=root)
    assert set(merged["camera_id"]) == {"all"} and merged["frames"].sum() == exact.frames

    # a late segment for a finalised hour is counted once, then merged into it
    TelemetryWriter(root, "cam-a", flush_interval_s=0).write_table(synthetic_table(T0 + timedelta(minutes=5), 10))
    assert query.kpis(T0 - timedelta(days=1), T0 + timedelta(days=1), telemetry_dir=root).frames == exact.frames + 10
    lake.compact(root, now=T0 + timedelta(hours=2, minutes=30), min_segment_age_s=0)
    assert query.kpis(T0 - timedelta(days=1), T0 + timedelta(days=1), telemetry_dir=root).frames == exact.frames + 10

    # closing the day merges everything into one file per partition
    report = lake.compact(root, now=T0 + timedelta(days=1), min_segment_age_s=0)
    assert report.merged_days == 1
    events, rollups = lake.snapshot(root)
    assert [f.kind for f in events] == ["day"] and [f.kind for f in rollups] == ["day"]
    assert query.kpis(*window, telemetry_dir=root).frames == exact.frames + 10


def test_open_hour_is_compacted_once_enough_segments(tmp_path):
    root = tmp_path / "t"
    _fill(root, count=600, per_segment=60)  # 10 segments in hour 10
    report = lake.compact(root, now=T0 + timedelta(minutes=15), min_segment_age_s=0)
    assert report.merged_hours == 1 and report.rollups_written == 0
    assert [f.kind for f in lake.snapshot(root)[0]] == ["hour"]
    assert query.kpis(T0, T0 + timedelta(hours=1), telemetry_dir=root).frames == 600


def test_retention_expires_raw_events_but_keeps_rollups(tmp_path):
    root = tmp_path / "t"
    _fill(root, count=3600)
    now = T0 + timedelta(days=40)
    lake.compact(root, now=now, min_segment_age_s=0, retention_days=30)
    events, rollups = lake.snapshot(root)
    assert events == [] and len(rollups) == 1
    assert query.kpis(T0 - timedelta(days=1), now, telemetry_dir=root).frames == 3600  # from rollups
    lake.compact(root, now=T0 + timedelta(days=500), retention_days=30)
    assert lake.snapshot(root) == ([], [])


def test_interrupted_swap_is_seen_as_done_or_not_done(tmp_path):
    root = tmp_path / "t"
    _fill(root, count=600, per_segment=100)
    events, _ = lake.snapshot(root)
    sources = [f.path for f in events]
    merged = lake._merge(__import__("duckdb").connect(), sources, sources[0].parent, "hour-10-abc.parquet")
    final = sources[0].parent / "hour-10-aaaaaaaaaaaa.parquet"
    journal = root / ".journal" / "crash.json"
    journal.parent.mkdir()
    record = {"new": [str(final.relative_to(root))], "sources": [str(p.relative_to(root)) for p in sources]}
    journal.write_text(json.dumps(record))
    # crash before the rename: the journal hides nothing real, the tmp file is invisible
    assert query.kpis(T0, T0 + timedelta(hours=1), telemetry_dir=root).frames == 600
    merged.rename(final)  # crash after the rename, before deleting sources: no double counting
    assert query.kpis(T0, T0 + timedelta(hours=1), telemetry_dir=root).frames == 600
    lake.compact(root, now=T0 + timedelta(minutes=20), min_segment_age_s=1e9)  # recovery finishes the swap
    assert not journal.exists() and not any(p.exists() for p in sources)
    assert query.kpis(T0, T0 + timedelta(hours=1), telemetry_dir=root).frames == 600


def test_partial_and_foreign_files_are_ignored(tmp_path):
    root = tmp_path / "t"
    _fill(root, count=100)
    directory = next((root / "events").iterdir())
    (directory / ".seg-10-cam-a-x-00000099.parquet.tmp").write_bytes(b"PAR1 half a file")
    (directory / "notes.txt").write_text("not telemetry")
    assert query.kpis(T0, T0 + timedelta(hours=1), telemetry_dir=root).frames == 100


def test_layout_is_readable_as_hive_partitioned_parquet(tmp_path):
    """The local half of scale-out: a generic engine reads the lake without our code."""
    root = tmp_path / "t"
    _fill(root, count=5000)
    _fill(root, start=T0 + timedelta(days=1), count=700, camera="cam-b")
    lake.compact(root, now=T0 + timedelta(days=3), min_segment_age_s=0)
    dataset = ds.dataset(root / "events", format="parquet", partitioning="hive")
    table = dataset.to_table(columns=["camera_id", "date", "pedestrians"])
    assert table.num_rows == 5700
    assert {str(v) for v in table.column("date").unique().to_pylist()} == {"2026-03-02", "2026-03-03"}
    rollups = ds.dataset(root / "rollups", format="parquet", partitioning="hive").to_table(columns=["frames"])
    assert sum(rollups.column("frames").to_pylist()) == 5700


WRITER_SCRIPT = """
import sys, time
from datetime import datetime, timedelta
from tests.fixtures.synthetic_telemetry import synthetic_events
from secmlops_core.telemetry.writer import TelemetryWriter
root, seconds = sys.argv[1], float(sys.argv[2])
writer = TelemetryWriter(root, "cam-w", flush_interval_s=0.05)
start, written, t = time.monotonic(), 0, datetime(2026, 3, 2, 10, 0, 0)
while time.monotonic() - start < seconds:
    events = synthetic_events(t + timedelta(seconds=written * 0.01), 20, "cam-w", 0.01, seed=written)
    writer.add_many(events)
    written += 20
    writer.maybe_flush()
    time.sleep(0.01)
writer.flush()
print(written)
"""


def test_concurrent_writer_reader_and_compactor(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(root), "4"], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    errors, counts, stop = [], [], threading.Event()

    def compactor():
        while not stop.is_set():
            try:
                lake.compact(root, now=T0 + timedelta(minutes=30), min_segment_age_s=0)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            time.sleep(0.05)

    thread = threading.Thread(target=compactor)
    thread.start()
    window = (T0, T0 + timedelta(hours=1))
    try:
        while proc.poll() is None:
            try:
                counts.append(query.kpis(*window, telemetry_dir=root).frames)
                query.per_minute(*window, telemetry_dir=root)
            except Exception as exc:
                errors.append(exc)
    finally:
        stop.set()
        thread.join()
    written = int(proc.communicate()[0].strip())
    assert not errors, errors
    assert len(counts) > 5 and counts == sorted(counts)  # never double counted, never lost
    assert query.kpis(*window, telemetry_dir=root).frames == written > 0
