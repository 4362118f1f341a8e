"""Drift on 1M- and 10M-row windows: the binned path against raw Evidently, time ratio and verdict agreement.

Data: generated events (``tests.fixtures.drift_windows``) with known shifts, some on purpose near the
0.1 threshold, plus unshifted columns, written as Parquet into a temporary telemetry lake.

* 1M rows per window: binned ``compute_drift`` vs Evidently's ``Report([DataDriftPreset()])``
  on every row (both read from the same lake).
* 10M rows per window: raw Evidently's Report would need many minutes and ~10 GB, so its
  time is measured on a 1M-row random sample of each window; verdict agreement is checked
  against Evidently's own stat test per column run on all 10M + 10M values.

Usage: python tests/bench/bench_drift.py [--skip-10m]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from secmlops_core.monitoring import binning, drift  # noqa: E402
from tests.fixtures.drift_windows import write_window  # noqa: E402
from secmlops_core.monitoring.windows import Window  # noqa: E402
from secmlops_core.telemetry import query  # noqa: E402
from tests.bench.common import best_and_median, report  # noqa: E402

SHIFTS = {"brightness": 0.3, "contrast": 0.095, "sharpness": 0.106, "entropy": 0.04, "pedestrians": 0.2,
          "latency_ms": 0.12}


def _lake(root: Path, rows: int) -> tuple[Window, Window]:
    hours = max(1, rows // 1_000_000)
    ref = Window(*write_window(root, datetime(2026, 1, 1, 0), rows, seed=1, hours=hours))
    cur = Window(*write_window(root, datetime(2026, 1, 2, 0), rows, seed=2, hours=hours, shifts=SHIFTS))
    return ref, cur


def _frame(root, window, sample: int | None = None):
    columns = ", ".join(f"{c}::DOUBLE AS {c}" for c in drift.FEATURES)
    with query.connect(window.start, window.end, root) as con:
        tail = f" USING SAMPLE {sample} ROWS (reservoir, 42)" if sample else ""
        return con.execute(f"SELECT {columns} FROM events WHERE ts >= ? AND ts < ?{tail}",
                           [window.start, window.end]).df()


def _raw_report(root, ref, cur, sample=None):
    started = time.perf_counter()
    ref_df, cur_df = _frame(root, ref, sample), _frame(root, cur, sample)
    _, found = drift.run_evidently(ref_df, cur_df, list(drift.FEATURES))
    seconds = time.perf_counter() - started
    return seconds, {c: drift.is_drifted(v[0], v[2], v[1]) for c, v in found.items()}


def _exact_tests(root, ref, cur, methods):
    verdicts = {}
    with query.connect(ref.start, cur.end, root) as con:
        for column in drift.FEATURES:
            a = binning.full_column(con, column, binning.materialize(con, "r", [column], ref, None))
            b = binning.full_column(con, column, binning.materialize(con, "c", [column], cur, None))
            verdicts[column] = drift.stattest(a, b, methods.get(column))[3]
    return verdicts


def _agreement(name, binned, oracle) -> None:
    same = sum(binned[c] == oracle[c] for c in oracle)
    print(f"{name:<64} {same}/{len(oracle)} columns agree"
          + ("" if same == len(oracle) else f"  DIFFER: {[c for c in oracle if binned[c] != oracle[c]]}"))


def main() -> int:
    skip_10m = "--skip-10m" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "1m"
        started = time.perf_counter()
        ref, cur = _lake(root, 1_000_000)
        print(f"generated 2 x 1,000,000 rows in {time.perf_counter() - started:.1f} s")
        result = drift.compute_drift(ref, cur, telemetry_dir=root)  # warm-up (imports)
        best, median = best_and_median(lambda: drift.compute_drift(ref, cur, telemetry_dir=root), repeats=5)
        report("binned drift, 1M + 1M rows (best)", best, goal=2.0)
        report("binned drift, 1M + 1M rows (median)", median, goal=2.0)
        print("  per column: " + ", ".join(f"{c.column}={c.score:.4f}{'*' if c.drifted else ''} [{c.basis}]"
                                         for c in result.columns))
        raw_s, raw_verdicts = _raw_report(root, ref, cur)
        report("raw Evidently Report, 1M + 1M rows (read + run)", raw_s)
        print(f"{'speed-up raw / binned (median)':<64} {raw_s / median:9.1f} x")
        _agreement("verdicts binned vs raw Evidently Report, 1M", result.verdicts(), raw_verdicts)
        if skip_10m:
            return 0
        root = Path(tmp) / "10m"
        started = time.perf_counter()
        ref, cur = _lake(root, 10_000_000)
        print(f"generated 2 x 10,000,000 rows in {time.perf_counter() - started:.1f} s")
        best, median = best_and_median(lambda: drift.compute_drift(ref, cur, telemetry_dir=root), repeats=3)
        result = drift.compute_drift(ref, cur, telemetry_dir=root)
        report("binned drift, 10M + 10M rows (best)", best)
        report("binned drift, 10M + 10M rows (median)", median)
        raw_s, sample_verdicts = _raw_report(root, ref, cur, sample=1_000_000)
        report("raw Evidently Report on a 1M-row sample of each 10M window", raw_s)
        print(f"{'speed-up raw(1M sample) / binned(10M) (median)':<64} {raw_s / median:9.1f} x")
        started = time.perf_counter()
        exact = _exact_tests(root, ref, cur, result.methods)
        report("Evidently stat tests on all 10M + 10M values (oracle)", time.perf_counter() - started)
        _agreement("verdicts binned vs Evidently tests on every row, 10M", result.verdicts(), exact)
        _agreement("verdicts raw Report on 1M sample vs tests on every row, 10M", sample_verdicts, exact)
    return 0


if __name__ == "__main__":
    sys.exit(main())
