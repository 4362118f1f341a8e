"""The sample camera as a street video: pacing, loop, offset, hash pinning, the stills fallback.

Most tests use a tiny synthetic video written here (frame n is a flat grey of level 4 + 8n, so a
decoded frame tells which video frame it is) and pass its hash explicitly; one test reads the real
``data/video/vtest.avi`` and skips, saying why, when it is not there.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from secmlops_core.errors import UserFacingError
from secmlops_core.feed import sources, state
from secmlops_core.feed.runner import FeedRunner
from secmlops_core.feed.scenarios import apply_scenario
from secmlops_core.feed.sources import (
    SAMPLE_VIDEO_SHA256, SampleSource, SampleVideoSource, SampleVideoUnavailable, open_source, sample_source,
    verified_video_bytes,
)
from secmlops_core.settings import DEFAULT_SAMPLE_VIDEO, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]
FRAMES, VIDEO_FPS = 30, 10  # a 3-second loop


@pytest.fixture()
def settings(tmp_path):
    s = load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})
    s.ensure_dirs()
    return s


@pytest.fixture()
def clip(tmp_path) -> tuple[Path, str]:
    """(path, sha256) of a 30-frame, 10 fps MJPG video whose frame n is grey level 4 + 8n."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), VIDEO_FPS, (64, 48))
    for n in range(FRAMES):
        writer.write(np.full((48, 64, 3), 4 + 8 * n, dtype=np.uint8))
    writer.release()
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def which(frame: np.ndarray) -> int:
    """The video frame number a decoded frame of the clip shows."""
    return round((float(frame.mean()) - 4) / 8)


def video(settings, clip, **kwargs) -> SampleVideoSource:
    path, digest = clip
    source = SampleVideoSource("sample", settings, path=path, expected_sha256=digest, **kwargs)
    source.open()
    return source


def test_frames_are_deterministic_by_index(settings, clip):
    source = video(settings, clip)
    assert (source.frame_count, source.video_fps, source.loop_seconds) == (FRAMES, VIDEO_FPS, 3.0)
    first = source.frame_at(3)
    later = [source.frame_at(i) for i in (4, 5, 1, 3)]  # forwards, backwards, the same again
    assert np.array_equal(first, later[-1]) and which(first) == 15
    other = video(settings, clip)
    assert all(np.array_equal(source.frame_at(i), other.frame_at(i)) for i in range(8))
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8


def test_a_2_fps_runner_sees_every_5th_frame_of_a_10_fps_video(settings, clip):
    source = video(settings, clip)  # the runner's default pace: 2 fps
    assert [source.video_frame_index(i) for i in range(6)] == [0, 5, 10, 15, 20, 25]
    assert [which(source.read()) for _ in range(6)] == [0, 5, 10, 15, 20, 25]
    assert video(settings, clip, fps=5).video_frame_index(3) == 6
    assert video(settings, clip, fps=10).video_frame_index(7) == 7  # at its own rate: every frame


def test_the_video_loops(settings, clip):
    source = video(settings, clip)
    assert source.video_frame_index(6) == 0  # 3 s in: the start again
    assert [which(source.read()) for _ in range(14)] == [0, 5, 10, 15, 20, 25] * 2 + [0, 5]
    assert np.array_equal(source.frame_at(6), source.frame_at(0))
    assert np.array_equal(source.frame_at(6 * 1000 + 1), source.frame_at(1))


def test_an_offset_shows_the_same_street_at_another_moment(settings, clip):
    second = video(settings, clip, offset=1.5)
    assert which(second.frame_at(0)) == 15 and which(second.frame_at(3)) == 0  # 1.5 s + 1.5 s wraps
    assert video(settings, clip, offset=4.5).video_frame_index(0) == 15  # offsets past the end wrap
    assert "starting 1.5 s in" in second.description
    assert not np.array_equal(second.frame_at(0), video(settings, clip).frame_at(0))


def test_scenarios_apply_to_the_video_frames(settings, clip):
    frame = video(settings, clip).frame_at(5)  # grey 204
    assert apply_scenario(frame, "night", 5).mean() < 0.6 * frame.mean()
    assert not np.array_equal(apply_scenario(frame, "occlusion", 10), frame)


def test_a_file_that_does_not_match_the_pinned_hash_is_refused_and_never_decoded(settings, clip, monkeypatch):
    path, _ = clip
    opened = []
    monkeypatch.setattr(sources, "_MemoryCapture", lambda data: opened.append(data))
    with pytest.raises(SampleVideoUnavailable, match="SHA-256 .* is not the pinned 45cddc9490be6934"):
        verified_video_bytes(path, SAMPLE_VIDEO_SHA256)
    fallback = sample_source(settings, path=path)  # the pinned vtest.avi hash
    assert opened == []
    assert isinstance(fallback, SampleSource) and fallback.kind == "sample"
    assert fallback.note.startswith("Sample video refused (") and fallback.note.endswith(": showing still photos")
    assert "SHA-256" in fallback.note and "not loaded" in fallback.note
    assert fallback.description.startswith("Still photos")


def test_a_missing_video_falls_back_to_the_stills_and_says_so(settings, tmp_path, monkeypatch):
    missing = tmp_path / "data" / "video" / "vtest.avi"
    fallback = sample_source(settings, path=missing)
    assert isinstance(fallback, SampleSource)
    assert fallback.note == f"Sample video not available ({missing} missing): showing still photos"
    monkeypatch.setattr(sources, "DEFAULT_SAMPLE_VIDEO", missing)  # the default location: say how to get it
    note = sample_source(settings, path=missing).note
    assert "missing; run `make sample-video`" in note
    fallback.open()
    assert fallback.frame_at(0).shape[1] == 640  # the stills play
    not_a_video = tmp_path / "junk.avi"
    not_a_video.write_bytes(b"RIFF" + b"\0" * 500)
    note = sample_source(settings, path=not_a_video,
                         expected_sha256=hashlib.sha256(not_a_video.read_bytes()).hexdigest()).note
    assert note.startswith("Sample video not readable (") and note.endswith("showing still photos")


def test_the_hash_is_computed_once_per_path_size_and_mtime(clip, monkeypatch):
    path, digest = clip
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(sources.hashlib, "sha256", lambda data: calls.append(1) or real(data))
    sources._verified.clear()
    assert verified_video_bytes(path, digest) == verified_video_bytes(path, digest.upper()) == path.read_bytes()
    assert len(calls) == 1
    stamp = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(stamp, stamp))
    verified_video_bytes(path, digest)
    assert len(calls) == 2


def test_open_source_sample_plays_the_video_when_it_verifies(settings, clip, monkeypatch):
    path, digest = clip
    monkeypatch.setattr(sources, "SAMPLE_VIDEO_SHA256", digest)
    local = load_settings({"SECMLOPS_HOME": str(settings.home), "SECMLOPS_SAMPLE_VIDEO": str(path)})
    source = open_source("sample", local, fps=2, offset=1.0)
    assert isinstance(source, SampleVideoSource) and source.note is None
    assert source.video_frame_index(0) == 10
    with pytest.raises(UserFacingError, match="sample camera only"):
        open_source(str(path), local, offset=1.0)


def test_the_runner_publishes_the_description_and_the_fallback_note(settings, tmp_path, clip):
    stills = sample_source(settings, path=tmp_path / "nowhere.avi")
    runner = FeedRunner(stills, "cam-stills", settings, fps=4)
    assert stills.fps == 4  # the sample's time follows the runner's pace
    assert runner.status.source_note == stills.note and "showing still photos" in runner.status.source_note
    state.camera_dir(settings, "cam-stills").mkdir(parents=True)
    state.write_status(settings, runner.status)
    assert state.read_status(settings, "cam-stills") == runner.status
    path, digest = clip
    runner = FeedRunner(sample_source(settings, path=path, expected_sha256=digest), "cam-video", settings)
    assert runner.status.source_note is None
    assert runner.status.source_description == "Street video (OpenCV vtest.avi), loop 3.0 s"


def test_status_round_trip_with_and_without_a_note_and_from_an_older_file(settings):
    for camera, note in (("cam-a", "Sample video not available (x missing): showing still photos"), ("cam-b", None)):
        status = state.FeedStatus(camera_id=camera, state="up", source="sample", source_kind="sample",
                                  source_description="Street video", source_note=note)
        state.camera_dir(settings, camera).mkdir(parents=True)
        state.write_status(settings, status)
        assert state.read_status(settings, camera) == status
    old = {"camera_id": "cam-old", "state": "up", "source": "sample", "source_kind": "sample", "frames": 3}
    state.camera_dir(settings, "cam-old").mkdir(parents=True)
    (state.camera_dir(settings, "cam-old") / state.STATUS).write_text(json.dumps(old))
    read = state.read_status(settings, "cam-old")
    assert read.frames == 3 and read.source_note is None and read.source_description == ""


def test_settings_sample_video_and_cameras(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default does not depend on the working directory
    defaults = load_settings({"SECMLOPS_HOME": str(tmp_path)})
    assert defaults.sample_video == REPO / "data" / "video" / "vtest.avi" == DEFAULT_SAMPLE_VIDEO
    assert defaults.sample_cameras == 2
    (tmp_path / "config.toml").write_text('sample_video = "elsewhere/v.avi"\nsample_cameras = 0\n')
    configured = load_settings({"SECMLOPS_HOME": str(tmp_path)})
    assert configured.sample_video == (tmp_path / "elsewhere" / "v.avi").resolve()
    assert configured.sample_cameras == 0
    env = load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_SAMPLE_VIDEO": "/srv/v.avi",
                         "SECMLOPS_SAMPLE_CAMERAS": "3"})
    assert env.sample_video == Path("/srv/v.avi") and env.sample_cameras == 3
    with pytest.raises(SettingsError, match="sample_cameras"):
        load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_SAMPLE_CAMERAS": "9"})


def test_serve_starts_two_sample_cameras_half_a_loop_apart():
    from secmlops_core.cli.serve import sample_camera_commands

    commands = sample_camera_commands(2, 79.5)
    assert [c[c.index("--camera-id") + 1] for c in commands] == ["sample-cam-1", "sample-cam-2"]
    assert [c[c.index("--offset") + 1] for c in commands] == ["0", "39.75"]
    assert all(c[c.index("--source") + 1] == "sample" for c in commands)
    assert [c[c.index("--fps") + 1] for c in commands] == ["1", "1"]  # together what one camera had: 2 fps
    assert sample_camera_commands(1, 79.5)[0][-2:] == ["--fps", "2"]
    assert sample_camera_commands(0, 79.5) == []


def test_the_real_street_video(settings):
    try:
        source = sample_source(settings)
    except UserFacingError as exc:
        pytest.skip(f"no sample camera at all: {exc}")
    if not isinstance(source, SampleVideoSource):
        pytest.skip(f"the real sample video is not usable here ({source.note}); `make sample-video` fetches it")
    assert source.path == settings.sample_video
    assert (source.frame_count, source.video_fps, source.loop_seconds) == (795, 10.0, 79.5)
    assert source.description == "Street video (OpenCV vtest.avi), loop 79.5 s"
    frame = source.frame_at(1)
    assert frame.shape == (576, 768, 3)
    direct = cv2.VideoCapture(str(settings.sample_video))
    try:
        for _ in range(5):
            direct.grab()
        ok, fifth = direct.read()
    finally:
        direct.release()
    assert ok and np.array_equal(frame, fifth)  # processed frame 1 at 2 fps is video frame 5
    assert np.array_equal(source.frame_at(159), source.frame_at(0))  # 79.5 s: the loop wraps
    assert sources.sample_loop_seconds(settings) == 79.5


@pytest.mark.slow
def test_a_feed_process_without_the_video_says_so_in_its_status(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "SECMLOPS_HOME": str(home), "YOLO_OFFLINE": "true",
           "SECMLOPS_SAMPLE_VIDEO": str(tmp_path / "absent.avi")}
    done = subprocess.run([sys.executable, "-m", "secmlops_core", "feed", "--source", "sample", "--camera-id",
                           "cam-note", "--duration", "15", "--offset", "20"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "showing still photos" in done.stderr
    status = json.loads((home / "feeds" / "cam-note" / "status.json").read_text())
    absent = tmp_path / "absent.avi"
    assert status["source_note"] == f"Sample video not available ({absent} missing): showing still photos"
    assert status["source_description"].startswith("Still photos") and status["frames"] >= 1
    assert status["source_kind"] == "sample" and status["state"] == "stopped"
    assert time.time() - status["heartbeat_at"] < 120
