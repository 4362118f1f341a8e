"""The Parquet telemetry lake: consistent snapshots for readers, compaction, rollups, retention.

Writers (feed runners) only ever *add* complete segment files (tmp + rename). The compactor
replaces sets of files by one merged file through a journaled swap under an exclusive
``flock``; readers list files under a shared ``flock``, so a listing never contains both a
merged file and its sources. See the package docstring for the whole design.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator

import duckdb

from secmlops_core.files import atomic_write_text, file_lock
from secmlops_core.telemetry.schema import (
    COMPACT_LOCK, DATE_DIR_RE, DAY_RE, EVENTS, HOUR_RE, JOURNAL, ROLLUP_SQL_SELECT, ROLLUPS, SEGMENT_RE,
    SWAP_LOCK,
)

HOUR_GRACE = timedelta(minutes=2)  # a runner flushes within 1 s; late segments are still merged later
DAY_GRACE = timedelta(minutes=10)
MIN_SEGMENT_AGE_S = 10.0
OPEN_HOUR_MIN_SEGMENTS = 6
ROLLUP_RETENTION_MIN_DAYS = 400
STALE_TMP_S = 3600


@dataclass(frozen=True)
class LakeFile:
    """One visible Parquet file with the partition it belongs to (hour None = whole day)."""

    path: Path
    day: date
    hour: int | None
    kind: str  # "seg", "hour" or "day"


@dataclass
class CompactionReport:
    """What one compaction pass did."""

    merged_hours: int = 0
    merged_days: int = 0
    rollups_written: int = 0
    files_removed: int = 0
    dates_expired: list[str] = field(default_factory=list)
    skipped: bool = False  # another process was compacting


def _classify(path: Path, day: date) -> LakeFile | None:
    name = path.name
    if match := SEGMENT_RE.match(name):
        return LakeFile(path, day, int(match.group(1)), "seg")
    if match := HOUR_RE.match(name):
        return LakeFile(path, day, int(match.group(1)), "hour")
    if DAY_RE.match(name):
        return LakeFile(path, day, None, "day")
    return None


def _date_dirs(root: Path) -> list[tuple[date, Path]]:
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        match = DATE_DIR_RE.match(entry.name)
        if match and entry.is_dir():
            found.append((date.fromisoformat(match.group(1)), entry))
    return sorted(found)


def _list(root: Path, start: datetime | None, end: datetime | None) -> list[LakeFile]:
    files = []
    for day, directory in _date_dirs(root):
        if (start and day < start.date()) or (end and day > end.date()):
            continue
        try:
            entries = list(directory.iterdir())
        except FileNotFoundError:  # expired meanwhile
            continue
        for path in entries:
            item = _classify(path, day)
            if item is None:
                continue
            if item.hour is not None:
                hour_start = datetime.combine(day, datetime.min.time()) + timedelta(hours=item.hour)
                if (start and hour_start + timedelta(hours=1) <= start) or (end and hour_start >= end):
                    continue
            files.append(item)
    return sorted(files, key=lambda f: f.path.name)


def _journals(telemetry_dir: Path) -> list[tuple[Path, dict]]:
    directory = telemetry_dir / JOURNAL
    if not directory.is_dir():
        return []
    out = []
    for path in directory.glob("*.json"):
        try:
            out.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return out


def _superseded(telemetry_dir: Path, journals: list[tuple[Path, dict]]) -> set[Path]:
    """Files a reader must skip because of an interrupted swap (see ``_swap``)."""
    hidden: set[Path] = set()
    for _, record in journals:
        news = [telemetry_dir / rel for rel in record.get("new", [])]
        if all(p.exists() for p in news):
            hidden.update(telemetry_dir / rel for rel in record.get("sources", []))
        else:
            hidden.update(news)
    return hidden


def _listing(telemetry_dir: Path, start: datetime | None, end: datetime | None
             ) -> tuple[list[LakeFile], list[LakeFile]]:
    """The files a snapshot holds; the caller holds the swap lock (shared)."""
    events = _list(telemetry_dir / EVENTS, start, end)
    rollups = _list(telemetry_dir / ROLLUPS, start, end)
    journals = _journals(telemetry_dir)
    if journals:
        hidden = _superseded(telemetry_dir, journals)
        events = [f for f in events if f.path not in hidden]
        rollups = [f for f in rollups if f.path not in hidden]
    return events, rollups


def snapshot(telemetry_dir: Path, start: datetime | None = None, end: datetime | None = None
             ) -> tuple[list[LakeFile], list[LakeFile]]:
    """(event files, rollup files) overlapping [start, end), listed consistently with compaction."""
    telemetry_dir = Path(telemetry_dir)
    with file_lock(telemetry_dir / SWAP_LOCK, exclusive=False):
        return _listing(telemetry_dir, start, end)


@contextmanager
def pinned_snapshot(telemetry_dir: Path, start: datetime | None = None, end: datetime | None = None
                    ) -> Iterator[tuple[list[LakeFile], list[LakeFile]]]:
    """Like :func:`snapshot`, but no compaction or expiry removes these files until the block ends
    (their swaps wait for it): for a read that lost its files to compaction once too often."""
    telemetry_dir = Path(telemetry_dir)
    with file_lock(telemetry_dir / SWAP_LOCK, exclusive=False):
        yield _listing(telemetry_dir, start, end)


def _swap(telemetry_dir: Path, replacements: list[tuple[Path, Path]], sources: list[Path]) -> None:
    """Atomically (for readers) put ``tmp -> final`` files in place and remove ``sources``.

    A journal written first makes a crash at any point recoverable: readers and the next
    compaction treat the swap as done when every new file exists, else as not done.
    """
    journal = telemetry_dir / JOURNAL / f"{uuid.uuid4().hex}.json"
    record = {"new": [str(final.relative_to(telemetry_dir)) for _, final in replacements],
              "sources": [str(p.relative_to(telemetry_dir)) for p in sources]}
    with file_lock(telemetry_dir / SWAP_LOCK, exclusive=True):
        atomic_write_text(journal, json.dumps(record))
        for tmp, final in replacements:
            os.replace(tmp, final)
        for path in sources:
            path.unlink(missing_ok=True)
        journal.unlink()


def _recover(telemetry_dir: Path) -> None:
    journals = _journals(telemetry_dir)
    if not journals:
        return
    with file_lock(telemetry_dir / SWAP_LOCK, exclusive=True):
        for path, record in journals:
            for hidden in _superseded(telemetry_dir, [(path, record)]):
                hidden.unlink(missing_ok=True)
            path.unlink(missing_ok=True)


def parquet_scan(paths) -> str:
    """SQL for scanning Parquet files by explicit list (partition columns come from the data, not paths)."""
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{listed}], union_by_name=true, hive_partitioning=false)"


def _merge(con: duckdb.DuckDBPyConnection, inputs: list[Path], target_dir: Path, name: str) -> Path:
    tmp = target_dir / f".{name}.tmp"
    con.execute(f"COPY (SELECT * FROM {parquet_scan(inputs)} ORDER BY ts) "
                f"TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
    return tmp


def _rollup(con: duckdb.DuckDBPyConnection, source: Path, target_dir: Path, name: str) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target_dir / f".{name}.tmp"
    con.execute(f"COPY (SELECT {ROLLUP_SQL_SELECT} FROM {parquet_scan([source])} GROUP BY ALL ORDER BY minute, "
                f"camera_id) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
    return tmp


def compact(telemetry_dir: Path, now: datetime | None = None, retention_days: int | None = None,
            min_segment_age_s: float = MIN_SEGMENT_AGE_S) -> CompactionReport:
    """One compaction pass: merge segments, finalise closed hours/days with rollups, expire old data.

    Safe to call from any process at any time; concurrent callers skip (non-blocking lock).
    """
    from secmlops_core.telemetry.writer import utc_now

    telemetry_dir = Path(telemetry_dir)
    now = now or utc_now()
    report = CompactionReport()
    with file_lock(telemetry_dir / COMPACT_LOCK, exclusive=True, blocking=False) as acquired:
        if not acquired:
            report.skipped = True
            return report
        _recover(telemetry_dir)
        con = duckdb.connect()
        con.execute("SET threads = 1")
        try:
            for day, directory in _date_dirs(telemetry_dir / EVENTS):
                _compact_day(con, telemetry_dir, day, directory, now, min_segment_age_s, report)
            if retention_days:
                _expire(telemetry_dir, now, retention_days, report)
        finally:
            con.close()
    return report


def _compact_day(con, telemetry_dir: Path, day: date, directory: Path, now: datetime, min_age: float,
                 report: CompactionReport) -> None:
    files = [f for f in (_classify(p, day) for p in directory.iterdir()) if f]
    _remove_stale_tmp(directory)
    rollup_dir = telemetry_dir / ROLLUPS / f"date={day.isoformat()}"
    rollups = [f for f in (_classify(p, day) for p in rollup_dir.iterdir()) if f] if rollup_dir.is_dir() else []
    day_start = datetime.combine(day, datetime.min.time())
    wall = time.time()

    if now >= day_start + timedelta(days=1) + DAY_GRACE:
        if len(files) > 1 or (files and not any(r.kind == "day" for r in rollups)) or \
                (files and len(rollups) > 1):
            inputs = [f.path for f in files]
            tag = uuid.uuid4().hex[:12]
            merged = _merge(con, inputs, directory, f"day-{tag}.parquet")
            rolled = _rollup(con, merged, rollup_dir, f"day-{tag}.parquet")
            _swap(telemetry_dir, [(merged, directory / f"day-{tag}.parquet"),
                                  (rolled, rollup_dir / f"day-{tag}.parquet")],
                  inputs + [r.path for r in rollups])
            report.merged_days += 1
            report.rollups_written += 1
            report.files_removed += len(inputs) + len(rollups)
        return

    for hour in sorted({f.hour for f in files if f.hour is not None}):
        in_hour = [f for f in files if f.hour == hour]
        segments = [f for f in in_hour if f.kind == "seg"]
        compacted = [f for f in in_hour if f.kind == "hour"]
        hour_rollups = [r for r in rollups if r.hour == hour]
        closed = now >= day_start + timedelta(hours=hour + 1) + HOUR_GRACE
        if closed:
            if not segments and len(compacted) == 1 and len(hour_rollups) == 1:
                continue
            inputs = [f.path for f in in_hour]
        else:
            old = [f for f in segments if wall - _mtime(f.path) >= min_age]
            if len(old) < OPEN_HOUR_MIN_SEGMENTS:
                continue
            inputs = [f.path for f in compacted + old]
        tag = uuid.uuid4().hex[:12]
        name = f"hour-{hour:02d}-{tag}.parquet"
        merged = _merge(con, inputs, directory, name)
        replacements, removed = [(merged, directory / name)], list(inputs)
        if closed:
            replacements.append((_rollup(con, merged, rollup_dir, name), rollup_dir / name))
            removed += [r.path for r in hour_rollups]
            report.rollups_written += 1
        _swap(telemetry_dir, replacements, removed)
        report.merged_hours += 1
        report.files_removed += len(removed)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _remove_stale_tmp(directory: Path) -> None:
    """Remove temporary files left by a killed writer or compactor."""
    cutoff = time.time() - STALE_TMP_S
    for path in directory.glob(".*.tmp"):
        if _mtime(path) < cutoff:
            path.unlink(missing_ok=True)


def _expire(telemetry_dir: Path, now: datetime, retention_days: int, report: CompactionReport) -> None:
    """Delete raw events older than ``retention_days``; rollups live ``max(400, 4x)`` days."""
    limits = ((EVENTS, retention_days), (ROLLUPS, max(ROLLUP_RETENTION_MIN_DAYS, 4 * retention_days)))
    for kind, days in limits:
        cutoff = (now - timedelta(days=days)).date()
        for day, directory in _date_dirs(telemetry_dir / kind):
            if day < cutoff:
                with file_lock(telemetry_dir / SWAP_LOCK, exclusive=True):
                    shutil.rmtree(directory, ignore_errors=True)
                report.dates_expired.append(f"{kind}/{day.isoformat()}")
