"""Attack benchmark: PGD (10 steps, ART through the project's loss adapter) on one 640x640 frame vs one
forward+backward pass of the same model, measured in the same run.

Run: ``.venv/bin/python tests/bench/bench_attacks.py`` (also part of ``make bench``).
Goals (issue 5): PGD-10 <= 12x one forward+backward; on a GPU, PGD-10 <= 0.3 s. The device is printed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

STEPS = 10


def main() -> int:
    os.environ.setdefault("SECMLOPS_HOME", tempfile.mkdtemp(prefix="secmlops-bench-attacks-"))
    import cv2

    from secmlops_core.attacks import frames
    from secmlops_core.attacks.specs import check_params
    from secmlops_core.attacks.evasion import run_evasion
    from secmlops_core.attacks.model import load_attack_model
    from tests.bench.common import best_and_median, report

    model = load_attack_model()
    frame = cv2.resize(frames.load_source("sample:bus"), (640, 640), interpolation=cv2.INTER_AREA)
    x = frames.bgr_to_nchw(frame)
    clean = model.predict(x)[0]
    params = check_params("pgd-vanish", {"eps": 8 / 255, "step": 2 / 255, "steps": STEPS, "imgsz": 640})
    import torch

    empty = {"batch_idx": torch.zeros(0, device=model.device), "cls": torch.zeros(0, 1, device=model.device),
             "bboxes": torch.zeros(0, 4, device=model.device)}
    tensor = model.to_tensor(x)

    def forward_backward():
        image = tensor.clone().requires_grad_(True)
        model.module.loss({**empty, "img": image})[0].sum().backward()
        if model.device.startswith("cuda"):
            torch.cuda.synchronize()
        return image.grad

    def pgd():
        return run_evasion(model, x, "pgd-vanish", "vanish", params, clean)

    repeats = 5 if model.device.startswith("cuda") else 3
    fb_best, fb_median = best_and_median(forward_backward, repeats=repeats * 2, warmup=2)
    pgd_best, pgd_median = best_and_median(pgd, repeats=repeats, warmup=1)
    after = model.predict(frames.quantise(pgd()))[0]
    print(f"device: {model.device} (torch {torch.__version__}, {torch.get_num_threads()} threads); "
          f"model {model.model_id}; frame 640x640; pedestrians {clean.pedestrians} -> {after.pedestrians} after PGD")
    report(f"one forward+backward [{model.device}] (median)", fb_median)
    report(f"PGD {STEPS} steps via ART [{model.device}] (median)", pgd_median)
    report(f"PGD-{STEPS} / forward+backward [{model.device}] (median/median)", pgd_median / fb_median, goal=12.0, unit="x")
    report(f"PGD-{STEPS} / forward+backward [{model.device}] (best/best)", pgd_best / fb_best, goal=12.0, unit="x")
    if model.device.startswith("cuda"):
        report(f"PGD {STEPS} steps [{model.device}] (median)", pgd_median, goal=0.3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
