"""Buffered, crash-safe event writer used by feed runners (one per runner process)."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from secmlops_core.telemetry.schema import EVENT_SCHEMA, EVENTS


def utc_now() -> datetime:
    """Current time as a naive UTC datetime (the telemetry time base)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class TelemetryWriter:
    """Buffers events in memory and writes them as Parquet segments (tmp file + rename).

    ``add`` never blocks on I/O; ``maybe_flush`` writes when ``flush_interval_s`` has passed, so
    a ``kill -9`` loses at most that interval. A segment becomes visible to readers only once
    complete (atomic ``os.replace``), so readers never see a partial file.

    When a write fails (disk full, read-only mount) the half-written file is removed, the events
    stay buffered (at most ``max_buffered_events``; beyond that the oldest are dropped and
    counted), ``write_error`` says why, and the next flush tries again.
    """

    def __init__(self, telemetry_dir: Path, camera_id: str, runner_id: str | None = None,
                 flush_interval_s: float = 1.0, max_buffered_events: int = 200_000):
        self.root = Path(telemetry_dir) / EVENTS
        self.camera_id = camera_id
        self.runner_id = runner_id or f"{os.getpid()}x{int(time.time() * 1000) % 10**9}"
        self.flush_interval_s = flush_interval_s
        self._rows: list[dict] = []
        self._seq = 0
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self.max_buffered_events = max_buffered_events
        self.events_written = 0
        self.segments_written = 0
        self.events_dropped = 0
        self.write_error = ""

    @property
    def buffered(self) -> int:
        """Events held in memory, not yet on disk."""
        with self._lock:
            return len(self._rows)

    def add(self, event: dict) -> None:
        """Queue one event (a dict with the keys of ``EVENT_SCHEMA``; ``ts`` naive UTC)."""
        with self._lock:
            self._rows.append(event)

    def add_many(self, events: list[dict]) -> None:
        """Queue several events."""
        with self._lock:
            self._rows.extend(events)

    def maybe_flush(self) -> int:
        """Flush if the interval has passed; returns the number of events written."""
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            return self.flush()
        return 0

    def flush(self) -> int:
        """Write every buffered event now (one segment per UTC hour touched)."""
        with self._lock:
            rows, self._rows = self._rows, []
            self._last_flush = time.monotonic()
        if not rows:
            return 0
        by_hour: dict[tuple[str, int], list[dict]] = {}
        for row in rows:
            ts = row["ts"]
            by_hour.setdefault((ts.strftime("%Y-%m-%d"), ts.hour), []).append(row)
        written, unwritten = 0, []
        for (day, hour), hour_rows in by_hour.items():
            if unwritten:
                unwritten.extend(hour_rows)
                continue
            try:
                self._write_segment(day, hour, pa.Table.from_pylist(hour_rows, schema=EVENT_SCHEMA))
                written += len(hour_rows)
            except OSError as exc:
                self.write_error = f"{exc.strerror or exc} ({self.root})"
                unwritten.extend(hour_rows)
        if unwritten:
            with self._lock:
                kept = unwritten + self._rows
                overflow = len(kept) - self.max_buffered_events
                if overflow > 0:
                    self.events_dropped += overflow
                    kept = kept[overflow:]
                self._rows = kept
        else:
            self.write_error = ""
        return written

    def write_table(self, table: pa.Table) -> None:
        """Write an Arrow table of events (all in one UTC hour) as one segment (bulk ingest)."""
        first = table.column("ts")[0].as_py()
        self._write_segment(first.strftime("%Y-%m-%d"), first.hour, table.cast(EVENT_SCHEMA))

    def _write_segment(self, day: str, hour: int, table: pa.Table) -> None:
        directory = self.root / f"date={day}"
        directory.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        name = f"seg-{hour:02d}-{self.camera_id}-{self.runner_id}-{self._seq:08d}.parquet"
        tmp = directory / f".{name}.tmp"
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, directory / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.events_written += table.num_rows
        self.segments_written += 1
