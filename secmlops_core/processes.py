"""Small facts about operating-system processes, shared by the feed runners and the job manager."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True when a process with this id exists (owned by anyone); False for pids <= 0."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

