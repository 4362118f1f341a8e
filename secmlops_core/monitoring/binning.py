"""Reducing big telemetry windows in DuckDB before Evidently sees them.

Each column of each window becomes a fine **equal-width histogram** (``BINS`` bins over the
union range of both windows; integer columns with a small range get one bin per value),
counted by DuckDB in one pass per window. The histogram is then turned into a **k-point
quantile summary**: the values at probabilities ``(i + 0.5) / k``, interpolating inside a
bin (integer columns keep their exact values). Evidently's distance tests on big windows
(Wasserstein normed for numeric columns, Jensen-Shannon for columns with <= 5 values) only
see the shape of each distribution, so they give the same score on the summary up to a
small error (moving every point by at most one bin width moves the Wasserstein distance by
at most that width; the quantile step adds at most range/k). Scores close to the threshold
are recomputed exactly on the full columns (see :mod:`.drift`).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

BINS = 8192


@dataclass(frozen=True)
class ColumnProfile:
    """Per-window facts about one column, from DuckDB."""

    count: int  # non-null values
    lo: float | None
    hi: float | None


def window_sql(camera: str | None) -> str:
    """WHERE clause for one window (parameters: start, end[, camera])."""
    return "ts >= ? AND ts < ?" + (" AND camera_id = ?" if camera else "")


def window_params(window, camera: str | None) -> list:
    """Parameters matching :func:`window_sql`."""
    return [window.start, window.end] + ([camera] if camera else [])


def count_rows(con: duckdb.DuckDBPyConnection, window, camera: str | None) -> int:
    """Events in one window (reads only the time and camera columns)."""
    return int(con.execute(f"SELECT count(*) FROM events WHERE {window_sql(camera)}",
                           window_params(window, camera)).fetchone()[0])


def materialize(con: duckdb.DuckDBPyConnection, name: str, columns: list[str], window, camera: str | None) -> str:
    """Copy one window's columns into a temporary table (Parquet is decoded once, then scanned twice)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {', '.join(columns)} FROM events WHERE "
                f"{window_sql(camera)}", window_params(window, camera))
    return name


def profile(con: duckdb.DuckDBPyConnection, columns: list[str], table: str) -> dict[str, ColumnProfile]:
    """Per-column non-null count/min/max of a materialized window."""
    select = ", ".join(f"count({c}), min({c})::DOUBLE, max({c})::DOUBLE" for c in columns)
    row = con.execute(f"SELECT 0, {select} FROM {table}").fetchone()
    out = {}
    for i, column in enumerate(columns):
        count, lo, hi = row[1 + 3 * i: 4 + 3 * i]
        out[column] = ColumnProfile(int(count), lo, hi)
    return out


@dataclass(frozen=True)
class BinSpec:
    """Shared bins of one column for both windows."""

    lo: float
    width: float
    bins: int
    discrete: bool  # one bin per integer value


def bin_spec(lo: float, hi: float, integer: bool, bins: int = BINS) -> BinSpec:
    """Equal-width bins over [lo, hi]; integer columns with a range below ``bins`` get one bin per value."""
    if integer and hi - lo < bins:
        return BinSpec(float(lo), 1.0, int(hi - lo) + 1, True)
    if hi <= lo:
        return BinSpec(float(lo), 0.0, 1, True)
    return BinSpec(float(lo), (hi - lo) / bins, bins, False)


def histograms(con: duckdb.DuckDBPyConnection, specs: dict[str, BinSpec], table: str) -> dict[str, np.ndarray]:
    """Counts per bin of every column of a materialized window (one scan)."""
    names = list(specs)
    exprs = []
    for i, column in enumerate(names):
        spec = specs[column]
        if spec.width == 0:
            exprs.append(f"CASE WHEN {column} IS NULL THEN NULL ELSE 0 END AS c{i}")
        else:
            exprs.append(f"least({spec.bins - 1}, greatest(0, floor(({column} - {spec.lo!r}) / {spec.width!r})))"
                         f"::INTEGER AS c{i}")
    parts = " UNION ALL ".join(f"SELECT {i} AS col, c{i} AS bin, count(*) AS n FROM s WHERE c{i} IS NOT NULL "
                               f"GROUP BY ALL" for i in range(len(names)))
    result = con.execute(f"WITH s AS MATERIALIZED (SELECT {', '.join(exprs)} FROM {table}) {parts}").fetchnumpy()
    out = {c: np.zeros(specs[c].bins, dtype=np.int64) for c in names}
    cols, bins, counts = (np.asarray(result[k]) for k in ("col", "bin", "n"))
    for i, column in enumerate(names):
        mask = cols == i
        np.add.at(out[column], bins[mask].astype(np.int64), counts[mask].astype(np.int64))
    return out


def quantile_summary(counts: np.ndarray, spec: BinSpec, points: int) -> np.ndarray:
    """``points`` values at probabilities (i + 0.5) / points of the binned distribution."""
    cum = np.cumsum(counts)
    total = cum[-1] if len(cum) else 0
    if total == 0:
        return np.full(points, np.nan)
    targets = (np.arange(points) + 0.5) / points * total
    idx = np.minimum(np.searchsorted(cum, targets, side="right"), len(counts) - 1)
    if spec.discrete:
        return spec.lo + idx * spec.width
    before = cum[idx] - counts[idx]
    frac = np.clip((targets - before) / np.maximum(counts[idx], 1), 0.0, 1.0)
    return spec.lo + (idx + frac) * spec.width


def full_column(con: duckdb.DuckDBPyConnection, column: str, table: str) -> np.ndarray:
    """Every non-null value of one column of a materialized window (for exact recomputation)."""
    result = con.execute(f"SELECT {column}::DOUBLE AS v FROM {table} WHERE {column} IS NOT NULL").fetchnumpy()
    return np.asarray(result["v"], dtype=float)
