"""Typed read API over the telemetry lake (in-memory DuckDB over Parquet; never the store file).

Every function takes a window ``[start, end)`` as datetimes (naive = UTC) and an optional
camera id. Monitoring, the ops wall and reports read telemetry only through this module.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import duckdb
import numpy as np
import pandas as pd

from secmlops_core.errors import UserFacingError
from secmlops_core.telemetry.lake import LakeFile, parquet_scan, pinned_snapshot, snapshot
from secmlops_core.telemetry.schema import (
    EVENT_SCHEMA, HIST_COLUMNS, IMAGE_STAT_COLUMNS, LATENCY_BUCKET_SQL, ROLLUP_SQL_SELECT,
)

RAW_WINDOW = timedelta(hours=3)  # windows up to this long are answered exactly from raw events
READ_ATTEMPTS = 5  # a fresh snapshot per attempt; a merge takes well under a second
RETRY_PAUSE_S = 0.05  # times the attempt number


@dataclass(frozen=True)
class Kpis:
    """Headline figures over a window. ``method`` says how quantiles were computed."""

    start: datetime
    end: datetime
    frames: int
    cameras: int
    fps: float | None  # frames per second, summed over cameras
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    pedestrians_per_frame: float | None
    mean_confidence: float | None  # mean of per-frame mean confidence, frames with detections
    first_ts: datetime | None
    last_ts: datetime | None
    method: str  # "exact (raw events)" or "per-minute rollups (latency quantiles ±9 %)"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _telemetry_dir(telemetry_dir: Path | None) -> Path:
    if telemetry_dir is not None:
        return Path(telemetry_dir)
    from secmlops_core.settings import get_settings

    return get_settings().telemetry_dir


def _empty_events_sql() -> str:
    cols = ", ".join(f"NULL::{_duck_type(f.type)} AS {f.name}" for f in EVENT_SCHEMA)
    return f"SELECT {cols} WHERE false"


def _duck_type(arrow_type) -> str:
    text = str(arrow_type)
    return {"timestamp[us]": "TIMESTAMP", "string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER",
            "double": "DOUBLE"}.get(text, "MAP(VARCHAR, INTEGER)")


def _source(files: list[LakeFile]) -> str:
    if not files:
        return f"({_empty_events_sql()})"
    return parquet_scan(f.path for f in files)


def _rollup_source(files: list[LakeFile]) -> str:
    if not files:
        return f"(SELECT {ROLLUP_SQL_SELECT} FROM ({_empty_events_sql()}) GROUP BY ALL)"
    return parquet_scan(f.path for f in files)


class TelemetryReadError(UserFacingError, OSError):
    """Telemetry could not be read: files a read had listed were gone when it read them, on every attempt.

    A user-facing sentence, and an ``OSError`` too, so callers that guard lake reads as I/O keep working.
    """


def _vanished(exc: duckdb.Error) -> bool:
    """Whether DuckDB failed because a listed file no longer exists (merged away by compaction)."""
    text = str(exc)
    return isinstance(exc, duckdb.IOException) and ("No files found" in text or "No such file" in text)


def _with_retries(attempt):
    """Call ``attempt(snapshot)`` with a fresh snapshot of the lake's files; when a file it listed was
    merged away before it read it, call it again on a new snapshot, at most READ_ATTEMPTS times in all.

    ``snapshot`` is a context manager yielding (event files, rollup files); the last retry's snapshot
    is pinned (compaction waits for it), so only a file removed by other means makes the read fail,
    with a TelemetryReadError. The one place where telemetry reads survive compaction.
    """
    last = None
    for n in range(READ_ATTEMPTS):
        if n:
            time.sleep(RETRY_PAUSE_S * n)
        pinned = n > 0 and n == READ_ATTEMPTS - 1
        try:
            return attempt(pinned_snapshot if pinned else _fresh_snapshot)
        except duckdb.IOException as exc:
            if not _vanished(exc):
                raise
            last = exc
    raise TelemetryReadError(
        f"The telemetry files of this window were gone by the time they were read (compaction merges them) "
        f"on each of {READ_ATTEMPTS} attempts; try again in a moment.") from last


@contextmanager
def _fresh_snapshot(root: Path, start: datetime, end: datetime):
    yield snapshot(root, start, end)


def _run(telemetry_dir: Path | None, start: datetime, end: datetime, work):
    """Run ``work(con, events, rollups, start, end)`` on a new in-memory connection over a snapshot, with retries."""
    root = _telemetry_dir(telemetry_dir)
    start, end = _utc(start), _utc(end)

    def attempt(listed):
        with listed(root, start, end) as (events, rollups):
            con = duckdb.connect()
            try:
                return work(con, events, rollups, start, end)
            finally:
                con.close()

    return _with_retries(attempt)


def _where(camera: str | None, ts: str = "ts") -> tuple[str, list]:
    clause, params = f"{ts} >= ? AND {ts} < ?", []
    if camera:
        clause += " AND camera_id = ?"
        params.append(camera)
    return clause, params


class LakeConnection:
    """An in-memory DuckDB connection with views ``events`` and ``minute_rollups`` over a window's files.

    ``execute`` survives compaction: when a listed file was merged away, the views are rebuilt on a
    fresh snapshot and the statement runs again. It returns DuckDB's connection, so ``.df()``,
    ``.fetchone()`` and the like read the (already materialised) result as usual.
    """

    def __init__(self, root: Path, start: datetime, end: datetime):
        self._root, self._start, self._end = root, start, end
        self._con = duckdb.connect()
        self._bound = False

    def _bind(self, events: list[LakeFile], rollups: list[LakeFile]) -> None:
        self._con.execute(f"CREATE OR REPLACE VIEW events AS SELECT * FROM {_source(events)}")
        self._con.execute(f"CREATE OR REPLACE VIEW minute_rollups AS SELECT * FROM {_rollup_source(rollups)}")
        self._bound = True

    def execute(self, sql: str, parameters=None) -> duckdb.DuckDBPyConnection:
        """Run one statement over the window's files (see the class docstring)."""
        tries = 0

        def attempt(listed):
            nonlocal tries
            tries += 1
            if self._bound and tries == 1:  # the views' files, unless this statement already lost one
                return self._run(sql, parameters)
            with listed(self._root, self._start, self._end) as (events, rollups):
                self._bind(events, rollups)
                return self._run(sql, parameters)

        return _with_retries(attempt)

    def _run(self, sql: str, parameters) -> duckdb.DuckDBPyConnection:
        return self._con.execute(sql, parameters) if parameters is not None else self._con.execute(sql)

    def close(self) -> None:
        """Close the underlying DuckDB connection."""
        self._con.close()


@contextmanager
def connect(start: datetime, end: datetime, telemetry_dir: Path | None = None) -> Iterator[LakeConnection]:
    """A :class:`LakeConnection` over the window's files; the views cover whole files overlapping the
    window, so filter on ``ts`` / ``minute`` yourself."""
    con = LakeConnection(_telemetry_dir(telemetry_dir), _utc(start), _utc(end))
    try:
        yield con
    finally:
        con.close()


def events_frame(start: datetime, end: datetime, camera: str | None = None, columns: list[str] | None = None,
                 limit: int | None = None, telemetry_dir: Path | None = None) -> pd.DataFrame:
    """Raw inference events in the window, ordered by time, as a pandas DataFrame."""
    wanted = columns or EVENT_SCHEMA.names
    unknown = set(wanted) - set(EVENT_SCHEMA.names)
    if unknown:
        raise ValueError(f"unknown event columns: {sorted(unknown)}")

    def work(con, events, _rollups, s, e):
        where, params = _where(camera)
        sql = f"SELECT {', '.join(wanted)} FROM {_source(events)} WHERE {where} ORDER BY ts"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return con.execute(sql, [s, e, *params]).df()

    return _run(telemetry_dir, start, end, work)


def _rollup_plan(events: list[LakeFile], rollups: list[LakeFile]) -> tuple[list[LakeFile], list[LakeFile]]:
    """Split files for a long window: rollups for finalised hours, raw files for everything else."""
    covered_days = {r.day for r in rollups if r.kind == "day"}
    covered_hours = {(r.day, r.hour) for r in rollups if r.kind == "hour"}
    raw = [f for f in events if f.kind == "seg"
           or (f.kind == "hour" and f.day not in covered_days and (f.day, f.hour) not in covered_hours)
           or (f.kind == "day" and f.day not in covered_days)]
    return raw, rollups


def _hist_quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """Quantile(s) from latency histograms (rows = groups), geometric interpolation in the bucket."""
    hist = np.atleast_2d(hist).astype(float)
    total = hist.sum(axis=1)
    cum = np.cumsum(hist, axis=1)
    target = q * total
    idx = np.argmax(cum >= target[:, None], axis=1)
    before = np.where(idx > 0, cum[np.arange(len(idx)), idx - 1], 0.0)
    inside = hist[np.arange(len(idx)), idx]
    frac = np.divide(target - before, inside, out=np.zeros_like(target), where=inside > 0)
    value = 2.0 ** ((idx + np.clip(frac, 0, 1)) / 4.0)
    return np.where(total > 0, value, np.nan)


def _none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def kpis(start: datetime, end: datetime, camera: str | None = None, telemetry_dir: Path | None = None) -> Kpis:
    """KPIs over ``[start, end)``: exact from raw events for short windows, rollups for long ones."""
    exact = _utc(end) - _utc(start) <= RAW_WINDOW

    def work(con, events, rollups, s, e):
        where, params = _where(camera)
        if exact:
            row = con.execute(
                f"SELECT count(*), count(DISTINCT camera_id), quantile_cont(latency_ms, 0.5), "
                f"quantile_cont(latency_ms, 0.95), avg(pedestrians), avg(mean_confidence), min(ts), max(ts) "
                f"FROM {_source(events)} WHERE {where}", [s, e, *params]).fetchone()
            fps = con.execute(
                f"SELECT sum((n - 1) / nullif(epoch(last - first), 0)) FROM (SELECT camera_id, count(*) n, "
                f"min(ts) first, max(ts) last FROM {_source(events)} WHERE {where} GROUP BY camera_id)",
                [s, e, *params]).fetchone()[0]
            frames, cams, p50, p95, ped, conf, first, last = row
            return Kpis(s, e, int(frames), int(cams), _none(fps), _none(p50), _none(p95), _none(ped), _none(conf),
                        first, last, "exact (raw events)")
        return _kpis_from_rollups(con, events, rollups, s, e, camera)

    return _run(telemetry_dir, start, end, work)


_KPI_SUMS = ["frames", "pedestrians_sum", "confidence_sum", "confidence_frames"]


def _minute_rows_sql(events, rollups, s, e, camera) -> tuple[str, list]:
    """SQL (and parameters) for per-(minute, camera) rollup rows: stored rollups + raw events rolled up now."""
    raw, rolled = _rollup_plan(events, rollups)
    where, params = _where(camera)
    rwhere, rparams = _where(camera, ts="minute")
    sql = (f"SELECT * FROM {_rollup_source(rolled)} WHERE {rwhere} UNION ALL BY NAME "
           f"SELECT {ROLLUP_SQL_SELECT} FROM {_source(raw)} WHERE {where} GROUP BY ALL")
    return sql, [s, e, *rparams, s, e, *params]


def _kpis_from_rollups(con, events, rollups, s: datetime, e: datetime, camera: str | None) -> Kpis:
    """KPIs for a long window: stored rollups for finalised hours, raw events aggregated directly otherwise."""
    raw, rolled = _rollup_plan(events, rollups)
    where, params = _where(camera)
    rwhere, rparams = _where(camera, ts="minute")
    sums = ", ".join(f"sum({c}) AS {c}" for c in _KPI_SUMS + HIST_COLUMNS)
    stored = con.execute(f"SELECT camera_id, min(first_ts) AS first_ts, max(last_ts) AS last_ts, {sums} "
                         f"FROM {_rollup_source(rolled)} WHERE {rwhere} GROUP BY camera_id", [s, e, *rparams]).df()
    fresh = con.execute(f"SELECT camera_id, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS frames, "
                        f"sum(pedestrians) AS pedestrians_sum, sum(mean_confidence) AS confidence_sum, "
                        f"count(mean_confidence) AS confidence_frames FROM {_source(raw)} WHERE {where} "
                        f"GROUP BY camera_id", [s, e, *params]).df()
    buckets = con.execute(f"SELECT {LATENCY_BUCKET_SQL} AS b, count(*) AS n FROM {_source(raw)} WHERE {where} "
                          f"GROUP BY b", [s, e, *params]).fetchall()
    hist = stored[HIST_COLUMNS].to_numpy(dtype=float).sum(axis=0) if not stored.empty else np.zeros(len(HIST_COLUMNS))
    for bucket, n in buckets:
        hist[int(bucket)] += n
    parts = [d for d in (stored[["camera_id", "first_ts", "last_ts", *_KPI_SUMS]], fresh) if not d.empty]
    if not parts:
        return _kpis_from_sums(fresh, hist, s, e)
    m = pd.concat(parts).groupby("camera_id").agg(first_ts=("first_ts", "min"), last_ts=("last_ts", "max"),
                                      **{c: (c, "sum") for c in _KPI_SUMS}).reset_index()
    return _kpis_from_sums(m, hist, s, e)


def _kpis_from_sums(m: pd.DataFrame, hist: np.ndarray, s: datetime, e: datetime) -> Kpis:
    """KPIs from per-camera sums (one row per camera) and the merged latency histogram."""
    method = "per-minute rollups (latency quantiles ±9 %)"
    m = m[m["frames"].fillna(0) > 0]
    if m.empty:
        return Kpis(s, e, 0, 0, None, None, None, None, None, None, None, method)
    frames = int(m["frames"].sum())
    span = (pd.to_datetime(m["last_ts"]) - pd.to_datetime(m["first_ts"])).dt.total_seconds()
    fps = float(((m["frames"] - 1) / span.where(span > 0)).sum(min_count=1))
    conf_n = m["confidence_frames"].sum()
    return Kpis(s, e, frames, int(len(m)), _none(fps), _none(_hist_quantile(hist, 0.5)[0]),
                _none(_hist_quantile(hist, 0.95)[0]), float(m["pedestrians_sum"].sum()) / frames,
                float(m["confidence_sum"].sum() / conf_n) if conf_n else None,
                pd.Timestamp(m["first_ts"].min()).to_pydatetime(), pd.Timestamp(m["last_ts"].max()).to_pydatetime(),
                method)


def per_minute(start: datetime, end: datetime, camera: str | None = None, by_camera: bool = False,
               telemetry_dir: Path | None = None) -> pd.DataFrame:
    """Time series per minute (per camera when ``by_camera``): frames, fps, latency, pedestrians,
    confidence and mean image statistics. Per-camera p50/p95 are exact; merged ones are ±9 %."""

    def work(con, events, rollups, s, e):
        sql, params = _minute_rows_sql(events, rollups, s, e, camera)
        return con.execute(sql, params).df()

    m = _run(telemetry_dir, start, end, work)
    columns = ["minute", "camera_id", "frames", "fps", "latency_mean_ms", "latency_p50_ms", "latency_p95_ms",
               "pedestrians_per_frame", "mean_confidence", *IMAGE_STAT_COLUMNS]
    if m.empty:
        return pd.DataFrame(columns=columns)
    sums = ["frames", "latency_sum", "pedestrians_sum", "confidence_sum", "confidence_frames",
            *[f"{c}_sum" for c in IMAGE_STAT_COLUMNS], *HIST_COLUMNS]
    if by_camera:
        g = m.groupby(["minute", "camera_id"], as_index=False).agg({**{c: "sum" for c in sums},
                                                                    "latency_p50": "max", "latency_p95": "max"})
        p50, p95 = g["latency_p50"], g["latency_p95"]
        keys = g["camera_id"]
    else:
        g = m.groupby("minute", as_index=False)[sums].sum()
        hist = g[HIST_COLUMNS].to_numpy()
        p50, p95 = _hist_quantile(hist, 0.5), _hist_quantile(hist, 0.95)
        keys = camera or "all"
    out = pd.DataFrame({
        "minute": g["minute"], "camera_id": keys, "frames": g["frames"].astype(int), "fps": g["frames"] / 60.0,
        "latency_mean_ms": g["latency_sum"] / g["frames"], "latency_p50_ms": p50, "latency_p95_ms": p95,
        "pedestrians_per_frame": g["pedestrians_sum"] / g["frames"],
        "mean_confidence": g["confidence_sum"] / g["confidence_frames"].where(g["confidence_frames"] > 0),
        **{c: g[f"{c}_sum"] / g["frames"] for c in IMAGE_STAT_COLUMNS},
    })
    return out.sort_values(["minute", "camera_id"]).reset_index(drop=True)


def camera_activity(start: datetime, end: datetime, telemetry_dir: Path | None = None) -> pd.DataFrame:
    """Per camera in the window: frames, first/last event time, last scenario and model."""

    def work(con, events, _rollups, s, e):
        return con.execute(
            f"SELECT camera_id, count(*) AS frames, min(ts) AS first_ts, max(ts) AS last_ts, "
            f"arg_max(scenario, ts) AS scenario, arg_max(model_id, ts) AS model_id, "
            f"avg(pedestrians) AS pedestrians_per_frame FROM {_source(events)} "
            f"WHERE ts >= ? AND ts < ? GROUP BY camera_id ORDER BY camera_id", [s, e]).df()

    return _run(telemetry_dir, start, end, work)
