"""Small facts about operating-system processes, shared by the feed runners and the job manager."""

from __future__ import annotations

import os

import psutil

# Process start times are compared to this tolerance (seconds; /proc reports them in clock ticks).
START_TIME_TOLERANCE_S = 1.0


def process_alive(pid: int, started_at: float | None = None) -> bool:
    """True when a process with this id exists (owned by anyone); False for pids <= 0. With
    ``started_at`` (as ``process_start_time`` gave it), also False when the id now belongs to a
    process that started at another time (the id was reused)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started_at is None:
        return True
    now_started = process_start_time(pid)
    return now_started is None or abs(now_started - started_at) <= START_TIME_TOLERANCE_S


def process_start_time(pid: int | None = None) -> float | None:
    """When a process (default: this one) started, in seconds since the epoch; None if unknown."""
    try:
        return psutil.Process(pid or os.getpid()).create_time()
    except (psutil.Error, OSError):
        return None

