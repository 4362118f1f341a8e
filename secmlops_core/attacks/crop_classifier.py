"""The detector seen as a classifier, "is there a pedestrian in this crop?", for DeepFool and HopSkipJump.

Its two logits are ``[logit(conf), logit(s)]`` where ``s`` is the highest pedestrian class
score over all anchors of the crop and ``conf`` the detector's confidence threshold, so class
1 ("pedestrian") is chosen exactly when the detector would report one. Crops are square,
centred on each clean pedestrian, resized to ``crop_size``; adversarial crops are pasted back
into the frame so the whole-frame detector can be asked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from secmlops_core.attacks.model import AttackModel
from secmlops_core.detector.results import FrameResult

GREY = 114 / 255


@dataclass(frozen=True)
class CropOutcome:
    """One attacked crop."""

    box: tuple
    clean_score: float
    adversarial_score: float
    flipped: bool
    l2: float
    linf: float


def crop_classifier_module(model: AttackModel, conf: float = 0.25, on_call: Callable[[], None] | None = None):
    """A torch module mapping (N, 3, S, S) crops to the two logits above."""
    import torch

    threshold = float(np.log(conf / (1 - conf)))
    peds = model.pedestrian_ids

    class CropClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model.module
            self.calls = 0

        def forward(self, x):
            if on_call is not None:
                on_call()
            self.calls += int(x.shape[0])
            scores, _ = model.scores(x.float())  # HopSkipJump hands over float64 batches
            s = scores[:, peds, :].amax(dim=(1, 2)).clamp(1e-6, 1 - 1e-6)
            logit = torch.log(s) - torch.log1p(-s)
            return torch.stack([torch.full_like(logit, threshold), logit], dim=1)

    return CropClassifier()


def _square_region(box, height, width, margin=1.15):
    x1, y1, x2, y2 = box
    side = int(round(max(x2 - x1, y2 - y1) * margin))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return int(round(cy - side / 2)), int(round(cx - side / 2)), side


def extract_crop(x: np.ndarray, box, size: int) -> tuple[np.ndarray, tuple]:
    """A square crop (1, 3, size, size) around ``box`` from NCHW ``x`` (grey outside the frame)."""
    _, _, height, width = x.shape
    top, left, side = _square_region(box, height, width)
    canvas = np.full((3, side, side), GREY, dtype=np.float32)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + side, height), min(left + side, width)
    canvas[:, t0 - top:t1 - top, l0 - left:l1 - left] = x[0, :, t0:t1, l0:l1]
    resized = cv2.resize(canvas.transpose(1, 2, 0), (size, size), interpolation=cv2.INTER_AREA)
    return resized.transpose(2, 0, 1)[None].astype(np.float32), (top, left, side)


def paste_delta(x: np.ndarray, delta: np.ndarray, region: tuple) -> np.ndarray:
    """Add a crop's perturbation, resized back, to a copy of ``x`` where the crop came from."""
    top, left, side = region
    _, _, height, width = x.shape
    back = cv2.resize(delta[0].transpose(1, 2, 0), (side, side), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    out = x.copy()
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + side, height), min(left + side, width)
    out[0, :, t0:t1, l0:l1] += back[:, t0 - top:t1 - top, l0 - left:l1 - left]
    return np.clip(out, 0, 1)


def run_classifier_attack(model: AttackModel, x: np.ndarray, attack_id: str, params: dict, clean: FrameResult,
                          on_call: Callable[[], None] | None = None,
                          on_crop: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[CropOutcome], int]:
    """DeepFool or HopSkipJump on each pedestrian crop; returns (frame with crops pasted back, outcomes, queries)."""
    import torch
    from art.attacks.evasion import DeepFool, HopSkipJump
    from art.estimators.classification import PyTorchClassifier

    size = max(64, int(round(params["crop_size"] / 32)) * 32)
    module = crop_classifier_module(model, on_call=on_call)
    classifier = PyTorchClassifier(module, loss=torch.nn.CrossEntropyLoss(), input_shape=(3, size, size), nb_classes=2,
                                   clip_values=(0.0, 1.0), channels_first=True,
                                   device_type="gpu" if model.device.startswith("cuda") else "cpu")
    if attack_id == "deepfool":
        attack = DeepFool(classifier, max_iter=params["max_iter"], epsilon=params["overshoot"], nb_grads=2,
                          batch_size=1, verbose=False)
    else:
        attack = HopSkipJump(classifier, targeted=False, norm=2, max_iter=params["max_iter"],
                             max_eval=params["max_eval"], init_eval=params["init_eval"], init_size=20,
                             batch_size=16, verbose=False)
    boxes = sorted((d for d in clean.detections if d.is_pedestrian), key=lambda d: -d.confidence)[:params["max_crops"]]
    out, outcomes = x.copy(), []
    with model.lock:
        for index, det in enumerate(boxes):
            crop, region = extract_crop(x, det.box, size)
            np.random.seed(index)  # HopSkipJump draws random directions from numpy's global generator
            if attack_id == "deepfool":
                adversarial = attack.generate(crop)
            else:  # start from a blank grey crop (no pedestrian) and walk back toward the real one
                adversarial = attack.generate(crop, x_adv_init=np.full_like(crop, GREY))
            adversarial = np.clip(adversarial, 0, 1).astype(np.float32)
            before, after = (float(1 / (1 + np.exp(-classifier.predict(c)[0, 1]))) for c in (crop, adversarial))
            outcomes.append(CropOutcome(box=det.box, clean_score=round(before, 4), adversarial_score=round(after, 4),
                                        flipped=bool(classifier.predict(adversarial)[0].argmax() == 0),
                                        l2=round(float(np.linalg.norm(adversarial - crop)), 4),
                                        linf=round(float(np.abs(adversarial - crop).max()), 4)))
            out = paste_delta(out, adversarial - crop, region)
            if on_crop is not None:
                on_crop(index + 1, len(boxes))
    return out, outcomes, module.calls
