"""One small interface per family of frame attacks (evasion, adversarial patch, attacks on the
detector seen as a crop classifier): ``run(frame_attack) -> FrameAttackOutcome``.

Runs, evaluations and adversarial training all make their adversarial frames through
:func:`attack_frame`; poisoning changes the model, not a frame, and has its own run
(:mod:`secmlops_core.attacks.poisoning_run`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import numpy as np

from secmlops_core.attacks.specs import AttackSpec
from secmlops_core.attacks.model import AttackModel
from secmlops_core.attacks.outcome import pedestrians, report_progress
from secmlops_core.detector.results import FrameResult
from secmlops_core.errors import UserFacingError
from secmlops_core.jobs import JobContext


@dataclass(frozen=True)
class FrameAttack:
    """One frame to attack: the model, the clean frame (NCHW in [0, 1]) and its clean detections,
    the attack with its checked parameters, and where progress goes (``share`` of the job)."""

    model: AttackModel
    x: np.ndarray
    spec: AttackSpec
    params: Mapping[str, float | int]
    clean: FrameResult
    ctx: JobContext | None = None
    defences: Sequence | None = None  # attack through these preprocessors (adaptive, BPDA)
    share: float = 0.7

    def progress(self, done: float, message: str) -> None:
        """Report ``done`` (0..1) of the attack as part of the job's progress."""
        report_progress(self.ctx, 0.1 + self.share * done, message)


@dataclass(frozen=True)
class FrameAttackOutcome:
    """The adversarial frame and what the family says about how it was made."""

    adversarial: np.ndarray
    details: dict = field(default_factory=dict)


class AttackFamily(Protocol):
    """What every family of frame attacks offers."""

    def run(self, attack: FrameAttack) -> FrameAttackOutcome:
        """Make the adversarial frame."""


class EvasionFamily:
    """Gradient attacks on the whole frame (FGSM, PGD toward vanish, ghost or flip targets)."""

    def run(self, attack: FrameAttack) -> FrameAttackOutcome:
        from secmlops_core.attacks.evasion import run_evasion

        total = 1 if attack.spec.id == "fgsm" else int(attack.params["steps"])
        steps = [0]

        def on_step():
            steps[0] += 1
            attack.progress(min(steps[0], total) / total, f"step {steps[0]}/{total}")

        adversarial = run_evasion(attack.model, attack.x, attack.spec.id, attack.spec.goal, dict(attack.params),
                                  attack.clean, attack.defences, on_step)
        return FrameAttackOutcome(adversarial)


class PatchFamily:
    """A printable patch pasted on each pedestrian: trained on this frame, or the shipped one."""

    def run(self, attack: FrameAttack) -> FrameAttackOutcome:
        from secmlops_core.attacks.patch import apply_patch, load_shipped_patch, patch_png, train_patch

        boxes = [d.box for d in pedestrians(attack.clean)]
        steps, scale = int(attack.params["train_steps"]), float(attack.params["scale"])
        if steps > 0:
            patch, history = train_patch(attack.model, [(attack.x, boxes)], steps, scale=scale,
                                         on_progress=lambda s, loss: attack.progress(
                                             s / steps, f"patch step {s}, loss {loss:.3f}"))
            details = {"patch": "trained on this frame", "loss_history": history[-20:]}
        else:
            patch, shipped = load_shipped_patch(attack.model.sha256)
            details = {"patch": f"shipped {shipped.id} (sha256 {shipped.sha256[:12]}…)"}
        details["patch_png"] = patch_png(patch)
        return FrameAttackOutcome(apply_patch(attack.x, patch, boxes, scale), details)


class CropClassifierFamily:
    """Decision and query attacks on each pedestrian crop, the detector seen as a classifier."""

    def run(self, attack: FrameAttack) -> FrameAttackOutcome:
        from secmlops_core.attacks.crop_classifier import run_classifier_attack

        adversarial, crops, queries = run_classifier_attack(
            attack.model, attack.x, attack.spec.id, dict(attack.params), attack.clean,
            on_call=(attack.ctx.check if attack.ctx else None),
            on_crop=lambda i, n: attack.progress(i / n, f"crop {i}/{n}"))
        return FrameAttackOutcome(adversarial, {"crops": [c.__dict__ for c in crops], "queries": queries})


FAMILIES: dict[str, AttackFamily] = {"evasion": EvasionFamily(), "patch": PatchFamily(),
                                     "classifier": CropClassifierFamily()}


def attack_frame(attack: FrameAttack) -> FrameAttackOutcome:
    """Run the frame attack with its family's implementation."""
    family = FAMILIES.get(attack.spec.family)
    if family is None:
        raise UserFacingError(f"{attack.spec.id} is a {attack.spec.family} attack and does not attack a single frame")
    return family.run(attack)
