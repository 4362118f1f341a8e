"""Telemetry benchmark: batch ingest rate and KPI query latency over 10 million events.

Run: ``.venv/bin/python tests/bench/bench_telemetry.py`` (also part of ``make bench``).
Goals (issue 4): ingest >= 50,000 events/s in batches; KPI query over 10M events p95 <= 250 ms.
The 10M events are synthetic load (4 cameras, one frame every 2 s each, ~58 days), written
through the real writer and compacted by the real compactor, then queried by the real API.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TOTAL = 10_000_000
CAMERAS = 4
STEP_S = 2.0
REPS = 20


def _ingest_rate(root: Path) -> float:
    from tests.fixtures.synthetic_telemetry import synthetic_table
    from secmlops_core.telemetry.writer import TelemetryWriter

    writer = TelemetryWriter(root, "ingest", flush_interval_s=0)
    batches = [synthetic_table(datetime(2025, 1, 1, 0, 0, 0) + timedelta(hours=h), 10_000, "ingest", 0.1, seed=h)
               for h in range(20)]
    started = time.perf_counter()
    for table in batches:
        writer.write_table(table)
    return sum(t.num_rows for t in batches) / (time.perf_counter() - started)


def _row_ingest_rate(root: Path) -> float:
    """The runner's path: row dicts buffered, flushed as one segment."""
    from tests.fixtures.synthetic_telemetry import synthetic_events
    from secmlops_core.telemetry.writer import TelemetryWriter

    rows = synthetic_events(datetime(2025, 2, 1), 20_000, "rows", 0.1)
    writer = TelemetryWriter(root, "rows", flush_interval_s=0)
    started = time.perf_counter()
    writer.add_many(rows)
    writer.flush()
    return len(rows) / (time.perf_counter() - started)


def _load_10m(root: Path) -> tuple[datetime, datetime, float]:
    """Write 10M events hour by hour per camera, then compact as the runners would over time."""
    from secmlops_core.telemetry.lake import compact
    from tests.fixtures.synthetic_telemetry import synthetic_table
    from secmlops_core.telemetry.writer import TelemetryWriter

    per_camera = TOTAL // CAMERAS
    start = datetime(2026, 1, 1)
    per_hour = int(3600 / STEP_S)
    started = time.perf_counter()
    for c in range(CAMERAS):
        camera = f"cam-{c}"
        writer = TelemetryWriter(root, camera, flush_interval_s=0)
        for offset in range(0, per_camera, per_hour):
            count = min(per_hour, per_camera - offset)
            writer.write_table(synthetic_table(start + timedelta(seconds=offset * STEP_S), count, camera, STEP_S,
                                               seed=c * 100_000 + offset // per_hour, first_index=offset))
    end = start + timedelta(seconds=per_camera * STEP_S)
    compact(root, now=end + timedelta(minutes=30), min_segment_age_s=0)
    return start, end, time.perf_counter() - started


def _timed(work) -> tuple[float, float]:
    work()
    times = []
    for _ in range(REPS):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1000, times[int(round(0.95 * (len(times) - 1)))] * 1000


def main() -> None:
    from secmlops_core.telemetry import query
    from secmlops_core.telemetry.lake import snapshot

    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        rate = _ingest_rate(Path(tmp) / "ingest")
        row_rate = _row_ingest_rate(Path(tmp) / "ingest-rows")
        root = Path(tmp) / "lake"
        start, end, load_s = _load_10m(root)
        events, rollups = snapshot(root)
        size_mb = sum(f.path.stat().st_size for f in events + rollups) / 1e6
        whole = query.kpis(start, end + timedelta(minutes=1), telemetry_dir=root)
        assert whole.frames == TOTAL, whole
        cases = {
            "KPIs, whole range (10M events, 58 days)": lambda: query.kpis(start, end + timedelta(minutes=1),
                                                                          telemetry_dir=root),
            "KPIs, last 24 h": lambda: query.kpis(end - timedelta(hours=24), end, telemetry_dir=root),
            "KPIs, last 15 min (exact, open hour)": lambda: query.kpis(end - timedelta(minutes=15), end,
                                                                       telemetry_dir=root),
            "KPIs, one camera, 7 days": lambda: query.kpis(end - timedelta(days=7), end, "cam-1", telemetry_dir=root),
            "per-minute series, last 6 h": lambda: query.per_minute(end - timedelta(hours=6), end,
                                                                    telemetry_dir=root),
        }
        timings = {name: _timed(work) for name, work in cases.items()}

    print(f"ingest, batches of 10,000 events (Parquet segment per batch): {rate:12,.0f} events/s  "
          f"(goal >= 50,000: {'PASS' if rate >= 50_000 else 'FAIL'})")
    print(f"ingest, runner path (row dicts -> one segment):             {row_rate:12,.0f} events/s")
    print(f"10M events: written + compacted in {load_s:.1f} s; {len(events)} event files + {len(rollups)} rollup "
          f"files, {size_mb:.0f} MB; whole-range KPIs: {whole.frames:,} frames, p95 {whole.latency_p95_ms:.1f} ms "
          f"({whole.method})")
    for name, (p50, p95) in timings.items():
        print(f"{name:<44} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (goal p95 <= 250 ms: "
              f"{'PASS' if p95 <= 250 else 'FAIL'})")


if __name__ == "__main__":
    main()
