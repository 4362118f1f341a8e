"""What an attack did to the detector, measured the same way by runs, evaluations, poisoning and
hardening: pedestrian counts and recall against a reference, success per goal, stored detections,
progress reporting and the result images of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from secmlops_core.attacks import frames as fr
from secmlops_core.attacks.defenses import match_boxes
from secmlops_core.detector.results import FrameResult
from secmlops_core.jobs import JobContext
from secmlops_core.settings import Settings

THUMB_WIDTH = 480


@dataclass
class RunPayload:
    """What one attack-lab run produced, as it is stored: metrics, result images by name,
    durations, and the detailed result (detections, defenses, instability, family details)."""

    metrics: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    durations: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)


def pedestrians(result: FrameResult) -> list:
    """The pedestrian detections of a frame."""
    return [d for d in result.detections if d.is_pedestrian]


def compare(reference: FrameResult, found: FrameResult) -> dict:
    """Counts, recall (class-agnostic and class-kept) and new pedestrians of ``found`` vs ``reference``."""
    ref, got = pedestrians(reference), pedestrians(found)
    matched = match_boxes(ref, got)
    return {"pedestrians": len(got), "recall": round(matched / len(ref), 4) if ref else None,
            "class_kept": round(match_boxes(ref, got, same_class=True) / len(ref), 4) if ref else None,
            "new_pedestrians": len(got) - matched}


def succeeded(goal: str, clean: FrameResult, comparison: dict, details: dict) -> bool:
    """Whether an attack with this goal reached it."""
    if goal == "vanish":
        return comparison["pedestrians"] < clean.pedestrians
    if goal == "ghost":
        return comparison["pedestrians"] > clean.pedestrians
    if goal == "flip":
        return (comparison["class_kept"] or 0) < (comparison["recall"] or 0) or comparison["recall"] == 0
    if goal == "hide":  # the patched pedestrians are no longer found where they were
        return (comparison["recall"] or 0) < 1
    if goal == "misclassify":
        return any(c["flipped"] for c in details.get("crops", []))
    return False


def detection_records(result: FrameResult) -> list[dict]:
    """A frame's detections as a run stores them."""
    return [{"label": d.label, "class_id": d.class_id, "confidence": d.confidence, "box": list(d.box),
             "pedestrian": d.is_pedestrian} for d in result.detections]


def report_progress(ctx: JobContext | None, fraction: float, message: str) -> None:
    """Progress of the job running this work, when there is one."""
    if ctx is not None:
        ctx.progress(fraction, message)


def save_result_images(settings: Settings, run_id: str, frame: np.ndarray, clean: FrameResult,
                       attacked_bgr: np.ndarray, attacked: FrameResult, patch_png: bytes | None = None) -> dict:
    """The clean, attacked and perturbation images of a run (annotated JPEGs, the lossless attacked
    PNG, the patch); returns their paths by name."""
    import cv2

    from secmlops_core.detector.annotate import annotate, encode_jpeg

    folder = settings.home / "attacks" / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    perturbation, gain = fr.perturbation_image(frame, attacked_bgr)
    images = {"clean": annotate(frame, clean, THUMB_WIDTH), "attacked": annotate(attacked_bgr, attacked, THUMB_WIDTH),
              "perturbation": annotate(perturbation, FrameResult((), None, 0, "", "", ""), THUMB_WIDTH)}
    paths: dict = {}
    for name, image in images.items():
        path = folder / f"{name}.jpg"
        path.write_bytes(encode_jpeg(image, 85))
        paths[name] = str(path)
    adversarial_png = folder / "attacked.png"  # lossless, for -o and re-evaluation
    cv2.imwrite(str(adversarial_png), attacked_bgr)
    paths["attacked_png"] = str(adversarial_png)
    if patch_png:
        Path(folder / "patch.png").write_bytes(patch_png)
        paths["patch"] = str(folder / "patch.png")
    paths["perturbation_gain"] = round(gain, 1)
    return paths
