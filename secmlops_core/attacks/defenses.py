"""Defenses: ART input preprocessors (channels first) and a detection-side instability detector.

Preprocessors run on RGB float NCHW frames in [0, 1]. An attack that does not know about the
defense is *non-adaptive*; an attack computed through the defense (ART applies the
preprocessor in the forward pass and approximates its gradient by the identity where it has
none, i.e. BPDA) is *adaptive*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from secmlops_core.attacks.specs import DEFENSES, check_defenses
from secmlops_core.detector.results import FrameResult

INSTABILITY_THRESHOLD = 0.3


def build_preprocessor(defense_id: str, params: dict | None = None):
    """The ART preprocessor for a defense id (parameters range-checked, channels first)."""
    from art.defences import preprocessor as art_pre

    spec = DEFENSES[check_defenses([defense_id])[0]]
    problems: list[str] = []
    values = {p.name: p.check((params or {}).get(p.name, p.default), problems, defense_id) for p in spec.params}
    if problems:
        from secmlops_core.errors import ValidationFailed

        raise ValidationFailed(problems, subject="defense parameters")
    cls = getattr(art_pre, spec.art_class)
    if defense_id == "jpeg":
        return cls(clip_values=(0.0, 1.0), channels_first=True, apply_fit=False, **values)
    if defense_id == "median":
        return cls(clip_values=(0.0, 1.0), channels_first=True, **values)
    if defense_id == "squeeze":
        return cls(clip_values=(0.0, 1.0), **values)
    return _ChannelsLast.wrap(cls(clip_values=(0.0, 1.0), **values))


class _ChannelsLast:
    """TotalVarMin works on NHWC only: present it as an NCHW preprocessor."""

    @staticmethod
    def wrap(inner):
        from art.defences.preprocessor import Preprocessor

        class ChannelsFirstTotalVarMin(Preprocessor):
            def __init__(self):
                super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)
                self.inner = inner

            def __call__(self, x, y=None):
                out, _ = self.inner(np.transpose(x, (0, 2, 3, 1)), y)
                return np.ascontiguousarray(np.transpose(out, (0, 3, 1, 2)), dtype=np.float32), y

            def estimate_gradient(self, x, grad):
                return grad  # BPDA: identity

            def fit(self, x, y=None, **kwargs):
                return None

        return ChannelsFirstTotalVarMin()


def apply_defense(preprocessor, x: np.ndarray) -> np.ndarray:
    """Run a preprocessor on an NCHW [0, 1] batch."""
    out, _ = preprocessor(np.ascontiguousarray(x, dtype=np.float32))
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


# --- detection-side defense -------------------------------------------------------------

def iou(a, b) -> float:
    """Intersection over union of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(reference, found, threshold: float = 0.5, same_class: bool = False) -> int:
    """Greedy one-to-one matches (IoU >= threshold) between two lists of Detections."""
    used, matched = set(), 0
    for ref in sorted(reference, key=lambda d: -d.confidence):
        best, best_iou = None, threshold
        for j, cand in enumerate(found):
            if j in used or (same_class and cand.class_id != ref.class_id):
                continue
            overlap = iou(ref.box, cand.box)
            if overlap >= best_iou:
                best, best_iou = j, overlap
        if best is not None:
            used.add(best)
            matched += 1
    return matched


@dataclass(frozen=True)
class InstabilityReport:
    """How much a frame's pedestrian detections change under small, benign transformations."""

    score: float  # 0 stable .. 1 nothing agrees
    flagged: bool
    per_transform: dict


def _benign_variants(x: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    jpeg = build_preprocessor("jpeg", {"quality": 75})
    median = build_preprocessor("median", {"window_size": 3})
    return {"jpeg75": apply_defense(jpeg, x), "median3": apply_defense(median, x),
            "noise2": np.clip(x + rng.normal(0, 2 / 255, x.shape).astype(np.float32), 0, 1),
            "brighter": np.clip(x * 1.08, 0, 1)}


def detection_instability(model, x: np.ndarray, base: FrameResult | None = None,
                          threshold: float = INSTABILITY_THRESHOLD) -> InstabilityReport:
    """Flag a frame whose pedestrians change under JPEG, median, noise and brightness (an alert signal).

    Adversarial frames sit close to decision boundaries, so their detections tend to move when
    the frame is perturbed harmlessly; clean frames mostly do not.
    """
    base = base or model.predict(x)[0]
    reference = [d for d in base.detections if d.is_pedestrian]
    agreement = {}
    for name, variant in _benign_variants(x).items():
        found = [d for d in model.predict(variant)[0].detections if d.is_pedestrian]
        total = len(reference) + len(found)
        agreement[name] = 1.0 if total == 0 else 2 * match_boxes(reference, found) / total
    score = round(1 - float(np.mean(list(agreement.values()))), 4)
    return InstabilityReport(score=score, flagged=score >= threshold,
                             per_transform={k: round(v, 4) for k, v in agreement.items()})
