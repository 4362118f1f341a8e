"""FGSM and PGD (L-infinity) against the detector through ART, in vanish, ghost and flip modes.

Each mode is a *targeted* attack on the detection loss: the target set is empty (vanish), the
clean detections plus extra pedestrian boxes (ghost), or the clean boxes with upright and
fallen swapped (flip). An untargeted PGD against the clean detections tends to *add* ghosts,
which is why vanish needs the empty target.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from secmlops_core.attacks.defenses import iou
from secmlops_core.attacks.model import AttackModel, art_detector
from secmlops_core.detector.results import FrameResult


def _as_target(boxes: list, labels: list) -> list[dict]:
    return [{"boxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
             "labels": np.asarray(labels, dtype=np.int64).reshape(-1)}]


def ghost_boxes(height: int, width: int, existing: list, count: int, seed: int = 0) -> list[tuple]:
    """``count`` pedestrian-shaped boxes placed where no detection is (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    box_h = 0.38 * height
    box_w = min(0.4 * box_h, width / 3)
    candidates = []
    for cx in np.linspace(box_w / 2 + 2, width - box_w / 2 - 2, 9):
        for bottom in (0.95 * height, 0.75 * height, 0.55 * height):
            candidates.append((float(cx - box_w / 2), float(bottom - box_h), float(cx + box_w / 2), float(bottom)))
    rng.shuffle(candidates)
    chosen: list[tuple] = []
    for box in candidates:
        if all(iou(box, other) < 0.05 for other in list(existing) + chosen):
            chosen.append(box)
        if len(chosen) == count:
            break
    return chosen


def attack_target(model: AttackModel, goal: str, clean: FrameResult, shape: tuple[int, int], params: dict) -> list[dict]:
    """The ART target (boxes xyxy in pixels, labels) for an evasion goal."""
    boxes = [d.box for d in clean.detections]
    labels = [d.class_id for d in clean.detections]
    if goal == "vanish":
        return _as_target([], [])
    if goal == "ghost":
        extra = ghost_boxes(shape[0], shape[1], boxes, int(params.get("ghosts", 3)))
        return _as_target(boxes + extra, labels + [model.pedestrian_ids[0]] * len(extra))
    if goal == "flip":
        swap = model.flip_map()
        return _as_target(boxes, [swap.get(c, c) for c in labels])
    raise ValueError(f"unknown evasion goal {goal!r}")


def ghost_term(model: AttackModel, ghosts: list[tuple], weight: float = 4.0) -> Callable:
    """Extra loss for ghost mode: raise the pedestrian score at the anchors inside each ghost box.

    ultralytics' task-aligned assigner gives a target box almost no weight where no predicted
    box overlaps it yet, so the detection loss alone cannot grow a pedestrian from nothing.
    """
    import torch
    from ultralytics.utils.tal import make_anchors

    pedestrian = model.pedestrian_ids[0]
    strides = model.module.model[-1].stride

    def extra(preds):
        raw = preds[1] if isinstance(preds, tuple) else preds
        points, stride = make_anchors(raw["feats"], strides, 0.5)
        centres = points * stride
        logits = raw["scores"][:, pedestrian, :]  # (batch, anchors), before the sigmoid
        total = logits.new_zeros(())
        for x1, y1, x2, y2 in ghosts:
            cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 4, (y2 - y1) / 4
            inside = ((centres[:, 0] - cx).abs() <= hw) & ((centres[:, 1] - cy).abs() <= hh) & (stride[:, 0] >= 16)
            if inside.any():
                top = logits[:, inside].topk(min(3, int(inside.sum())), dim=1).values
                total = total - torch.nn.functional.logsigmoid(top).mean()
        return weight * total

    return extra


def run_evasion(model: AttackModel, x: np.ndarray, attack_id: str, goal: str, params: dict, clean: FrameResult,
                defences: list | None = None, on_step: Callable[[], None] | None = None) -> np.ndarray:
    """The adversarial batch for ``x`` (NCHW, [0, 1]); ``defences`` make it adaptive (BPDA through them)."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    target = attack_target(model, goal, clean, x.shape[2:], params)
    extra = None
    if goal == "ghost":
        known = len(clean.detections)
        extra = ghost_term(model, [tuple(b) for b in target[0]["boxes"][known:].tolist()])
    estimator = art_detector(model, x.shape[1:], defences, on_step, extra)
    if attack_id == "fgsm":
        attack = FastGradientMethod(estimator, norm=np.inf, eps=params["eps"], eps_step=params["eps"], targeted=True,
                                    batch_size=1)
    else:
        attack = ProjectedGradientDescent(estimator, norm=np.inf, eps=params["eps"], eps_step=params["step"],
                                          max_iter=params["steps"], targeted=True, num_random_init=0, batch_size=1,
                                          verbose=False)
    with model.lock:
        adversarial = attack.generate(x.astype(np.float32), y=target)
    return np.clip(adversarial, x - params["eps"], x + params["eps"]).clip(0, 1).astype(np.float32)
