"""The feed runner: image folders, scenarios, unreachable streams, SIGTERM and kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from secmlops_core.errors import UserFacingError
from secmlops_core.feed import state
from secmlops_core.feed.runner import FeedRunner
from secmlops_core.feed.scenarios import SCENARIOS, apply_scenario
from secmlops_core.feed.sources import SampleSource, open_source, sample_image_paths
from secmlops_core.settings import load_settings
from secmlops_core.telemetry import query
from secmlops_core.telemetry.lake import snapshot
from secmlops_core.telemetry.writer import utc_now

REPO = Path(__file__).resolve().parents[2]
EVER = (datetime(2000, 1, 1), datetime(2100, 1, 1))


@pytest.fixture()
def settings(tmp_path):
    s = load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})
    s.ensure_dirs()
    return s


def _events(settings):
    return query.events_frame(*EVER, telemetry_dir=settings.telemetry_dir)


@pytest.mark.slow
def test_image_folder_gives_exactly_one_event_per_frame(settings, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    bus, zidane = sample_image_paths()
    for i, src in enumerate([bus, zidane, bus]):
        shutil.copyfile(src, folder / f"{i:02d}.jpg")
    (folder / "03-broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "04-empty.png").write_bytes(b"")
    runner = FeedRunner(open_source(str(folder), settings), "folder-cam", settings)
    summary = runner.run()
    events = _events(settings)
    assert summary.frames == summary.events_written == len(events) == 3
    assert summary.skipped == 2 and summary.state == "stopped"
    assert events["frame_index"].tolist() == [0, 1, 2]
    assert events["pedestrians"].tolist()[0] >= 4 and events["pedestrians"].tolist()[1] >= 2
    assert set(events["source_kind"]) == {"images"} and set(events["camera_id"]) == {"folder-cam"}
    status = state.read_status(settings, "folder-cam")
    assert status.state == "stopped" and status.health == "down" and status.skipped == 2
    assert "empty" in status.last_error
    assert state.read_latest_frame(settings, "folder-cam")[:2] == b"\xff\xd8"


def test_sample_source_is_deterministic_and_moves(settings):
    source = SampleSource("sample", settings)
    source.open()
    a, b = source.frame_at(3), source.frame_at(3)
    assert np.array_equal(a, b) and a.shape[1] == 640
    assert not np.array_equal(source.frame_at(3), source.frame_at(4))  # pan/zoom
    assert source.frame_at(0).shape != source.frame_at(int(20 * 2)).shape  # bus -> zidane
    night = source.frame_at(int(300 * 2)).mean()  # half a day/night cycle later
    assert night < 0.7 * source.frame_at(0).mean()


def test_scenarios_change_the_measured_statistics(settings):
    from secmlops_core.detector.stats import image_stats

    source = SampleSource("sample", settings)
    source.open()
    frame = source.frame_at(0)
    base = image_stats(frame)
    stats = {name: image_stats(apply_scenario(frame, name, 0)) for name in SCENARIOS}
    assert stats["normal"] == base
    assert stats["night"].brightness < 0.5 * base.brightness
    assert stats["fog"].contrast < 0.5 * base.contrast
    assert stats["rain"].sharpness > base.sharpness
    assert stats["tamper"].sharpness < 0.05 * base.sharpness and stats["tamper"].contrast < 0.2 * base.contrast
    assert not np.array_equal(apply_scenario(frame, "occlusion", 10), frame)
    with pytest.raises(ValueError, match="unknown scenario"):
        apply_scenario(frame, "earthquake", 0)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_unreachable_stream_retries_with_backoff_and_visible_status(settings):
    url = f"http://127.0.0.1:{_closed_port()}/stream.mjpg"
    runner = FeedRunner(open_source(url, settings), "net-cam", settings, duration=4.5)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(runner.run()))
    thread.start()
    healths = []
    while thread.is_alive():
        status = state.read_status(settings, "net-cam")
        if status:
            healths.append((status.state, status.health))
        time.sleep(0.2)
    thread.join()
    summary = seen[0]
    assert ("retrying", "stale") in healths
    assert summary.frames == 0 and summary.retries >= 2  # 1 s, 2 s, ... backoff within 4.5 s
    status = state.read_status(settings, "net-cam")
    assert "cannot open" in status.last_error and status.state == "stopped"
    assert _events(settings).empty


def test_bad_sources_and_ids_are_refused(settings, tmp_path):
    with pytest.raises(UserFacingError, match="not 'sample'"):
        open_source(str(tmp_path / "missing"), settings)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UserFacingError, match="empty"):
        open_source(str(empty), settings).open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(20000))
    with pytest.raises(UserFacingError, match="not a readable video"):
        open_source(str(junk), settings).open()
    with pytest.raises(UserFacingError, match="invalid camera id"):
        state.validate_camera_id("../etc")
    with pytest.raises(UserFacingError, match="unknown scenario"):
        state.set_scenario(settings, "cam", "earthquake")


@pytest.mark.slow
def test_video_file_source(settings, tmp_path):
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (640, 480))
    source = SampleSource("sample", settings)
    source.open()
    for i in range(4):
        writer.write(cv2.resize(source.frame_at(i), (640, 480)))
    writer.release()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    summary = FeedRunner(open_source(str(path), settings), "video-cam", settings).run()
    assert summary.frames == summary.events_written == 4
    summary = FeedRunner(open_source(str(truncated), settings), "video-cut", settings).run()
    assert summary.state == "stopped" and summary.frames == summary.events_written < 4


def test_health_is_derived_from_heartbeat(settings):
    now = time.time()
    up = state.FeedStatus(camera_id="c", state="up", pid=os.getpid(), heartbeat_at=now, last_frame_at=now,
                          target_fps=2)
    assert up.health == "up"
    assert state.FeedStatus(**{**up.__dict__, "last_frame_at": now - 60}).health == "stale"
    assert state.FeedStatus(**{**up.__dict__, "heartbeat_at": now - 60}).health == "down"
    assert state.FeedStatus(**{**up.__dict__, "pid": 2**22 + 12345}).health == "down"


def _start_runner(home: Path, camera: str, fps: float) -> subprocess.Popen:
    env = {**os.environ, "SECMLOPS_HOME": str(home), "YOLO_OFFLINE": "true"}
    return subprocess.Popen([sys.executable, "-m", "secmlops_core", "feed", "--source", "sample", "--camera-id",
                             camera, "--fps", str(fps), "--duration", "90"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_frames(settings, camera: str, frames: int, proc: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        status = state.read_status(settings, camera)
        if status and status.frames >= frames:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{camera} did not reach {frames} frames")


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_everything_flushed_and_scenario_switch(settings):
    proc = _start_runner(settings.home, "term-cam", fps=4)
    try:
        _wait_frames(settings, "term-cam", 3, proc)
        state.set_scenario(settings, "term-cam", "night")
        _wait_frames(settings, "term-cam", 8, proc)
        assert state.read_status(settings, "term-cam").health == "up"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    status = state.read_status(settings, "term-cam")
    events = _events(settings)
    assert status.state == "stopped" and len(events) == status.frames
    assert '"state": "stopped"' in out
    night = events[events["scenario"] == "night"]
    normal = events[events["scenario"] == "normal"]
    assert len(night) >= 2 and len(normal) >= 2
    assert night["brightness"].mean() < 0.5 * normal["brightness"].mean()


@pytest.mark.slow
def test_kill_9_loses_at_most_about_a_second(settings):
    proc = _start_runner(settings.home, "crash-cam", fps=5)
    try:
        _wait_frames(settings, "crash-cam", 15, proc)
        killed_at = utc_now()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = _events(settings)  # every visible file reads back
    assert len(events) >= 10
    assert events["frame_index"].tolist() == list(range(len(events)))  # no gaps, no duplicates
    lost_seconds = (killed_at - events["ts"].max().to_pydatetime()).total_seconds()
    assert lost_seconds <= 1.0 + 1 / 5 + 0.5  # flush interval + one frame + scheduling slack
    files, _ = snapshot(settings.telemetry_dir)
    assert files and all(f.path.suffix == ".parquet" for f in files)
    # a new runner on the same camera continues; the stray status is replaced
    assert query.kpis(*EVER, telemetry_dir=settings.telemetry_dir).frames == len(events)
    assert state.read_status(settings, "crash-cam").health == "down"


def test_cli_feed_input_errors(secmlops_home, capsys):
    from secmlops_core.cli import main

    assert main(["feed", "--source", "sample", "--camera-id", "../x", "--duration", "1"]) == 2
    assert "invalid camera id" in capsys.readouterr().err
    assert main(["feed", "--source", "sample", "--camera-id", "x", "--fps", "0"]) == 2
    assert main(["feeds", "scenario", "x", "fog"]) == 0
    assert main(["feeds", "status"]) == 0
