"""A full disk under a running feed: detection goes on, the status says so plainly, nothing on
disk is corrupted, buffered events are written once space returns.

Where the machine lets the test mount a small tmpfs (root), the disk really fills up; the same
test also runs with the operating system's ENOSPC error injected into every file write.
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from secmlops_core.feed import state
from secmlops_core.feed.runner import FeedRunner
from secmlops_core.feed.sources import open_source
from secmlops_core.settings import load_settings
from secmlops_core.telemetry import query

EVER = (datetime(2000, 1, 1), datetime(2100, 1, 1))
pytestmark = pytest.mark.slow


class RealDisk:
    """A 64 MiB tmpfs as the data directory, filled to the last byte on demand."""

    def __init__(self, home: Path):
        self.home, self.filler = home, home / "filler.bin"

    def mount(self) -> bool:
        self.home.mkdir(parents=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(self.home)],
                              capture_output=True)
        return done.returncode == 0

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (1 << 20, 1 << 12, 1 << 9):  # down to the last block
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.home)], capture_output=True)


class InjectedDisk:
    """No tmpfs here: every telemetry and feed-file write raises ENOSPC while 'full'."""

    def __init__(self, home: Path, monkeypatch):
        self.home, self.full = home, False
        self.monkeypatch = monkeypatch

    def mount(self) -> bool:
        import secmlops_core.feed.state as feed_state
        import secmlops_core.telemetry.writer as writer

        def refusing(real, partial_file_arg: int | None):
            def call(*args, **kwargs):
                if self.full:
                    if partial_file_arg is not None:  # what a real full disk leaves behind
                        Path(args[partial_file_arg]).write_bytes(b"PAR1 half")
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real(*args, **kwargs)
            return call

        self.monkeypatch.setattr(writer.pq, "write_table", refusing(writer.pq.write_table, 1))
        self.monkeypatch.setattr(feed_state, "atomic_write_bytes", refusing(feed_state.atomic_write_bytes, None))
        self.home.mkdir(parents=True, exist_ok=True)
        return True

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False

    def unmount(self) -> None:
        pass


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path, monkeypatch):
    home = tmp_path / "home"
    if request.param == "tmpfs":
        chosen = RealDisk(home)
        if os.geteuid() != 0 or not chosen.mount():
            pytest.skip("mounting a tmpfs needs root; the injected variant covers this machine")
    else:
        chosen = InjectedDisk(home, monkeypatch)
        chosen.mount()
    yield chosen
    chosen.unmount()


def _until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def test_full_disk_gives_a_clear_status_no_corruption_and_no_loss_once_space_returns(disk):
    settings = load_settings({"SECMLOPS_HOME": str(disk.home)})
    settings.ensure_dirs()
    runner = FeedRunner(open_source("sample", settings), "full-cam", settings, fps=4, duration=120,
                        compact_every_s=2)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        _until(lambda: runner.writer.events_written >= 3, 90, "the runner wrote telemetry")
        disk.fill()
        status = _until(lambda: (s := state.read_status(settings, "full-cam")) and s.state == "degraded" and s,
                        15, "the status says telemetry is not being written")
        assert "No space left on device" in status.last_error and "events held in memory" in status.last_error
        assert status.health == "stale" and status.telemetry_buffered > 0
        frames_then = status.frames
        _until(lambda: (s := state.read_status(settings, "full-cam")) and s.frames > frames_then + 4, 15,
               "detection goes on while the disk is full")
        leftovers = [p for p in settings.home.rglob("*.tmp")]
        assert leftovers == [], "half-written files are removed"
        readable = query.events_frame(*EVER, telemetry_dir=settings.telemetry_dir)
        assert len(readable) == runner.writer.events_written, "what is on disk reads back whole"
        disk.free()
        recovered = _until(lambda: (s := state.read_status(settings, "full-cam")) and s.state == "up" and s, 15,
                           "the runner recovers")
        assert recovered.last_error == "" and recovered.telemetry_buffered <= 8, "only the last second is in memory"
    finally:
        runner.request_stop()
        thread.join(timeout=60)
    assert runner.status.state == "stopped" and runner.writer.events_dropped == 0
    events = query.events_frame(*EVER, telemetry_dir=settings.telemetry_dir)
    assert events["frame_index"].tolist() == list(range(runner.status.frames)), "no event lost, none twice"
