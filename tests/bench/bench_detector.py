"""Detector/runner benchmark: runner per-frame cost vs raw YOLO.predict on the same frames, runner RSS.

Run: ``.venv/bin/python tests/bench/bench_detector.py`` (also part of ``make bench``).
Goals (issue 4): runner cost <= 1.10x raw predict; runner RSS <= 1.5 GB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

FRAMES = 24
ROUNDS = 3


def _frames_folder(settings, folder: Path) -> list[Path]:
    """Sample-feed frames (pan/zoom crops of bus.jpg and zidane.jpg) written as JPEG files."""
    import cv2

    from secmlops_core.feed.sources import SampleSource

    source = SampleSource("sample", settings)
    source.open()
    paths = []
    for i in range(FRAMES):
        path = folder / f"{i:03d}.jpg"
        cv2.imwrite(str(path), source.frame_at(i * 7), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def _raw(yolo, paths) -> float:
    started = time.perf_counter()
    for path in paths:
        yolo.predict(str(path), conf=0.25, iou=0.7, imgsz=640, device="cpu", verbose=False, save=False)
    return (time.perf_counter() - started) / len(paths)


def _runner(settings, folder: Path, round_no: int) -> float:
    from secmlops_core.feed.runner import FeedRunner
    from secmlops_core.feed.sources import open_source

    runner = FeedRunner(open_source(str(folder), settings), f"bench-{round_no}", settings)
    started = time.perf_counter()
    summary = runner.run()
    elapsed = time.perf_counter() - started
    assert summary.events_written == FRAMES, summary
    return elapsed / FRAMES


def _runner_rss(home: Path, seconds: float = 20.0) -> float:
    """Peak RSS (MB) of a real `secmlops feed --source sample` process running unthrottled."""
    import psutil

    env = {**os.environ, "SECMLOPS_HOME": str(home), "YOLO_OFFLINE": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "secmlops_core", "feed", "--source", "sample", "--camera-id",
                             "bench-rss", "--fps", "100", "--duration", str(seconds)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    handle, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, handle.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.25)
    return peak / 2**20


def main() -> None:
    from secmlops_core.detector.model import load_detector
    from secmlops_core.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-detector-") as tmp:
        settings = load_settings({"SECMLOPS_HOME": str(Path(tmp) / "home")})
        settings.ensure_dirs()
        folder = Path(tmp) / "frames"
        folder.mkdir()
        paths = _frames_folder(settings, folder)
        detector = load_detector(None, settings)
        _raw(detector.yolo, paths[:4])  # warm-up
        raw, run = [], []
        for round_no in range(ROUNDS):  # interleaved so both see the same machine state
            raw.append(_raw(detector.yolo, paths))
            run.append(_runner(settings, folder, round_no))
        raw_ms, run_ms = statistics.median(raw) * 1000, statistics.median(run) * 1000
        rss = _runner_rss(Path(tmp) / "home-rss")
    ratio = run_ms / raw_ms
    print(f"detector: {detector.model_id} on {detector.device}, {FRAMES} frames x {ROUNDS} rounds (median)")
    print(f"raw YOLO.predict per frame (file in, decode by ultralytics): {raw_ms:8.1f} ms")
    print(f"runner per frame (decode+guards, predict, stats, event, flush, status, latest JPEG): {run_ms:8.1f} ms")
    print(f"runner / raw ratio: {ratio:.3f}  (goal <= 1.10: {'PASS' if ratio <= 1.10 else 'FAIL'})")
    print(f"runner peak RSS (sample feed, unthrottled, 20 s): {rss:.0f} MB  (goal <= 1536 MB: "
          f"{'PASS' if rss <= 1536 else 'FAIL'})")


if __name__ == "__main__":
    main()
