"""Per-minute series for charts: whole minutes only, the minute still in progress named apart.

A minute that has not ended holds only the frames seen so far, so its frame count (and the
FPS derived from it) reads as a drop that never happened. Charts draw the complete minutes and
say which minute was left out as partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd


@dataclass(frozen=True)
class MinuteSeries:
    """Complete minutes of a window, and the minute in progress that was left out (if it had data)."""

    rows: pd.DataFrame  # the columns of telemetry.query.per_minute, complete minutes only
    partial_minute: datetime | None  # start of the unfinished minute that was left out

    @property
    def empty(self) -> bool:
        return self.rows.empty


def floor_minute(value: datetime) -> datetime:
    """``value`` truncated to the start of its minute."""
    return value.replace(second=0, microsecond=0)


def complete_minutes(frame: pd.DataFrame, end: datetime) -> MinuteSeries:
    """Split a per-minute frame at ``end``: minutes starting at or after ``floor_minute(end)`` are
    unfinished (when ``end`` is not itself on a minute boundary) and are left out."""
    cut = floor_minute(end)
    if frame.empty:
        return MinuteSeries(frame, None)
    minutes = pd.to_datetime(frame["minute"])
    unfinished = minutes >= pd.Timestamp(cut) if end != cut else minutes >= pd.Timestamp(end)
    partial = cut if bool(unfinished.any()) else None
    return MinuteSeries(frame[~unfinished].reset_index(drop=True), partial)


def minute_series(start: datetime, end: datetime, camera: str | None = None, by_camera: bool = False,
                  telemetry_dir=None) -> MinuteSeries:
    """Per-minute telemetry over ``[start, end)`` for a chart: the window starts on a whole minute (so
    the first minute is not cut short either) and the unfinished last minute is left out."""
    from secmlops_core.telemetry import query

    frame = query.per_minute(floor_minute(start), end, camera, by_camera=by_camera, telemetry_dir=telemetry_dir)
    return complete_minutes(frame, end)
