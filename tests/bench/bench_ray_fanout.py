"""Evaluation fan-out benchmark: frames per second of a robustness evaluation (FGSM, no defense,
320 px) spread over a local Ray cluster with 1 and then 2 worker CPUs, and the ratio.

Run: ``.venv/bin/python tests/bench/bench_ray_fanout.py`` (also part of ``make bench``). Each
cluster is a ``ray start --head`` of its own, stopped by its process group afterwards. The
workers load the model during a warm-up pass that is not timed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

FRAMES = 8
IMGSZ = 320


def frames_per_second(num_cpus: int, images: list) -> tuple[float, int]:
    """(frames per second, worker processes used) of the evaluation on a fresh local head with ``num_cpus``."""
    import ray

    from secmlops_core.attacks.evaluation import evaluate
    from secmlops_core.jobs.ray_executor import RayExecutor
    from tests.ray.conftest import _stop_group, start_local_head

    temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")
    process, address = start_local_head(num_cpus, temp_dir)
    try:
        executor = RayExecutor(address)
        evaluate(images[: 2 * num_cpus], ["fgsm"], [], imgsz=IMGSZ, executor=executor)  # warm-up: workers load the model
        started = time.perf_counter()
        result = evaluate(images, ["fgsm"], [], imgsz=IMGSZ, executor=executor)
        seconds = time.perf_counter() - started
        return len(images) / seconds, len(result.workers)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop_group(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


def main() -> int:
    os.environ.setdefault("SECMLOPS_HOME", tempfile.mkdtemp(prefix="secmlops-bench-ray-"))
    os.environ.setdefault("YOLO_OFFLINE", "true")
    from secmlops_core.attacks.frames import sample_images
    from tests.bench.common import report

    samples = sample_images()
    images = [(f"{i}-{name}", frame) for i in range(FRAMES // len(samples)) for name, frame in samples]
    one, used_one = frames_per_second(1, images)
    two, used_two = frames_per_second(2, images)
    print(f"robustness evaluation fan-out: {len(images)} frames at {IMGSZ} px, FGSM, no defense; "
          f"{os.cpu_count()} cores on this machine")
    report(f"1 worker CPU ({used_one} worker process(es))", one, unit="frames/s")
    report(f"2 worker CPUs ({used_two} worker process(es))", two, unit="frames/s")
    report("ratio 2 / 1", two / one, unit="x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
