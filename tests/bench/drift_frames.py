"""The sample street video as the feed sees it, through the real detector, cached per (scenario, frame).

The feed samples ``data/video/vtest.avi`` (10 fps, 795 frames) at elapsed video time; at the
feed's 2 fps it sees every 5th frame, so one loop of the video is 159 feed frames and repeats
exactly. Each (scenario, video frame) is therefore detected once and its telemetry row reused
every time the loop comes round. The scenario transforms take a frame index for their noise
and the occluder's position; here that index is the frame's position in the loop, so a
scenario's noise pattern repeats with the loop (a live runner's would not), which leaves the
per-window distributions the drift tests see unchanged.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

VIDEO = ROOT / "data" / "video" / "vtest.avi"
VIDEO_FPS = 10.0
FEED_FPS = 2.0
STEP = int(VIDEO_FPS / FEED_FPS)
FIELDS = ("latency_ms", "width", "height", "detections", "pedestrians", "class_counts", "mean_confidence",
          "min_confidence", "brightness", "contrast", "sharpness", "colourfulness", "entropy", "model_id",
          "model_sha256", "device")


def video_frames() -> list:
    """Every ``STEP``-th frame of the sample video (what a 2 fps feed sees in one loop)."""
    import cv2

    capture = cv2.VideoCapture(str(VIDEO))
    frames, index = [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % STEP == 0:
                frames.append(frame)
            index += 1
    finally:
        capture.release()
    if not frames:
        raise SystemExit(f"cannot read {VIDEO}; run `make sample-video` first")
    return frames


def detect_loop(scenarios: list[str], cache_file: Path | None = None, progress=print) -> dict[str, list[dict]]:
    """Per scenario, one telemetry row (without ts/camera) per feed frame of one loop, from the real detector."""
    from secmlops_core.detector.model import load_detector
    from secmlops_core.feed.runner import build_event
    from secmlops_core.feed.scenarios import apply_scenario

    cached: dict[str, list[dict]] = {}
    if cache_file and cache_file.is_file():
        cached = pickle.loads(cache_file.read_bytes())
    todo = [s for s in scenarios if s not in cached]
    if todo:
        frames = video_frames()
        detector = load_detector()
        for scenario in todo:
            rows = []
            for position, frame in enumerate(frames):
                shown = apply_scenario(frame, scenario, position)
                result = detector.predict([shown])[0]
                event = build_event(result, ts=None, camera_id="", runner_id="", frame_index=position,
                                    source_kind="sample", scenario=scenario, frame_ms=result.latency_ms)
                rows.append({k: event[k] for k in FIELDS})
            cached[scenario] = rows
            progress(f"detected {len(rows)} frames under {scenario}")
            if cache_file:
                cache_file.write_bytes(pickle.dumps(cached))
    return {s: cached[s] for s in scenarios}


if __name__ == "__main__":
    from secmlops_core.feed.scenarios import SCENARIOS

    detect_loop(list(SCENARIOS), Path(sys.argv[1]) if len(sys.argv) > 1 else None)
