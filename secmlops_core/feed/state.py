"""Per-camera files shared by a feed runner and the app: status, control (scenario), latest frame.

``settings.feeds_dir/<camera>/`` holds ``status.json`` (written by the runner about once a
second), ``control.json`` (written by the app; polled by the runner) and ``latest.jpg`` (the
latest annotated frame). Every write is atomic (tmp + rename), so readers never see a torn file.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from secmlops_core.access.audit import record_event
from secmlops_core.access.policy import require
from secmlops_core.errors import UserFacingError
from secmlops_core.feed.scenarios import SCENARIOS
from secmlops_core.settings import Settings
from secmlops_core.store import get_store
from secmlops_core.files import atomic_write_bytes, atomic_write_text
from secmlops_core.os_processes import process_alive

CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
STATUS, CONTROL, LATEST = "status.json", "control.json", "latest.jpg"
STATUS_BYTES = 4096  # one filesystem block
DOWN_AFTER_S = 15.0  # no heartbeat for this long: the runner is gone


def validate_camera_id(camera_id: str) -> str:
    """Camera ids name directories and files: letters, digits, '.', '_' and '-' (max 48)."""
    if not CAMERA_ID.match(camera_id or ""):
        raise UserFacingError(f"invalid camera id {camera_id!r}: use 1-48 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit")
    return camera_id


def camera_dir(settings: Settings, camera_id: str) -> Path:
    """The directory of one camera's runner files."""
    return settings.feeds_dir / validate_camera_id(camera_id)


@dataclass
class FeedStatus:
    """What a runner reports about itself; ``health`` is derived by readers (up/stale/down)."""

    camera_id: str
    state: str = "starting"  # starting | up | degraded (telemetry not being written) | retrying | stopped | failed
    source: str = ""
    source_kind: str = ""
    scenario: str = "normal"
    model_id: str = ""
    device: str = ""
    pid: int = 0
    started_at: float = 0.0
    heartbeat_at: float = 0.0
    last_frame_at: float = 0.0
    frames: int = 0
    skipped: int = 0
    fps: float = 0.0
    target_fps: float | None = None
    last_pedestrians: int = 0
    last_latency_ms: float = 0.0
    last_error: str = ""
    retries: int = 0
    next_retry_at: float = 0.0
    telemetry_buffered: int = 0
    telemetry_dropped: int = 0
    # What the source is, in plain words ("Street video (OpenCV vtest.avi), loop 79.5 s").
    source_description: str = ""
    # Why the source is not the one asked for, e.g. the sample camera showing still photos because
    # its video is missing; None when it is. (Status files written before these fields still read.)
    source_note: str | None = None

    @property
    def health(self) -> str:
        """"up" (frames flowing), "stale" (alive but no recent frame, or reconnecting), "down"."""
        now = time.time()
        if self.state in {"stopped", "failed"} or now - self.heartbeat_at > DOWN_AFTER_S or not process_alive(self.pid):
            return "down"
        frame_gap = max(5.0, 5.0 / self.target_fps) if self.target_fps else 10.0
        if self.state != "up" or now - self.last_frame_at > frame_gap:
            return "stale"
        return "up"



def write_status(settings: Settings, status: FeedStatus) -> None:
    """Publish a runner's status atomically; on a full disk, overwrite the file in place.

    The file is padded to one filesystem block, so rewriting it in place needs no free space:
    a runner whose disk is full can still say so.
    """
    path = camera_dir(settings, status.camera_id) / STATUS
    data = json.dumps(asdict(status)).encode("utf-8").ljust(STATUS_BYTES)
    try:
        atomic_write_bytes(path, data)
    except OSError:
        try:
            with open(path, "r+b") as handle:
                handle.write(data)
        except OSError:
            pass  # nothing more can be said; readers see the heartbeat age


def read_status(settings: Settings, camera_id: str) -> FeedStatus | None:
    """One camera's last published status, or None."""
    path = camera_dir(settings, camera_id) / STATUS
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    known = {f.name for f in fields(FeedStatus)}
    return FeedStatus(**{k: v for k, v in raw.items() if k in known})


def list_statuses(settings: Settings) -> list[FeedStatus]:
    """Every camera that has ever published a status, sorted by id."""
    if not settings.feeds_dir.is_dir():
        return []
    found = []
    for entry in sorted(settings.feeds_dir.iterdir()):
        if entry.is_dir() and CAMERA_ID.match(entry.name):
            status = read_status(settings, entry.name)
            if status is not None:
                found.append(status)
    return found


def set_scenario(settings: Settings, camera_id: str, scenario: str) -> None:
    """Ask a running camera to switch scenario (the runner applies it within ~0.5 s).
    Needs permission to operate feeds; the switch is audited."""
    require("operate_feeds")
    if scenario not in SCENARIOS:
        raise UserFacingError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    payload = {"scenario": scenario, "requested_at": time.time()}
    previous = read_control(settings, camera_id).get("scenario")
    atomic_write_text(camera_dir(settings, camera_id) / CONTROL, json.dumps(payload))
    record_event(get_store(settings.store_path), "feed.scenario", camera_id, previous, scenario)


def read_control(settings: Settings, camera_id: str) -> dict:
    """The control file's content ({} when absent or unreadable)."""
    try:
        data = json.loads((camera_dir(settings, camera_id) / CONTROL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_latest_frame(settings: Settings, camera_id: str, jpeg: bytes) -> None:
    """Publish the latest annotated frame (skipped when the disk refuses it; the status tells why)."""
    try:
        atomic_write_bytes(camera_dir(settings, camera_id) / LATEST, jpeg)
    except OSError:
        pass


def read_latest_frame(settings: Settings, camera_id: str) -> bytes | None:
    """The latest annotated JPEG of a camera, or None."""
    try:
        return (camera_dir(settings, camera_id) / LATEST).read_bytes()
    except OSError:
        return None
