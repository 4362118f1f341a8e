"""Loading verified weights and running the detector (torch/ultralytics imported lazily).

The attack lab gets the model through :func:`get_yolo` (the ultralytics ``YOLO`` object) or
``load_detector(...).torch_model`` (its ``torch.nn.Module``, detection head included).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from secmlops_core.detector.checkpoint_safety import inspect_detector_checkpoint
from secmlops_core.detector.environment import prepare_ultralytics_env
from secmlops_core.detector.results import Detection, FrameResult
from secmlops_core.detector.stats import image_stats
from secmlops_core.detector.weights import WeightsEntry, resolve_weights, verified_copy
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, get_settings

_cache: dict[tuple, "Detector"] = {}
_cache_lock = threading.Lock()


def select_device() -> tuple[str, bool]:
    """(device, half): CUDA with half precision when available, else CPU in float32."""
    import torch

    if torch.cuda.is_available():
        return "cuda:0", True
    return "cpu", False


@dataclass
class Detector:
    """A loaded, hash-verified detector. ``predict`` is thread-safe (one inference at a time)."""

    entry: WeightsEntry
    yolo: object  # ultralytics.YOLO
    device: str
    half: bool
    names: dict[int, str]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_id(self) -> str:
        return self.entry.id

    @property
    def sha256(self) -> str:
        return self.entry.sha256

    @property
    def torch_model(self):
        """The underlying ``torch.nn.Module`` (ultralytics ``DetectionModel``), in eval mode."""
        return self.yolo.model

    def pedestrian_class_ids(self) -> list[int]:
        """Class ids that count as pedestrian for these weights."""
        return [cid for cid, name in self.names.items() if self.entry.is_pedestrian(cid, name)]

    def predict(self, frames: Sequence[np.ndarray], conf: float = 0.25, iou: float = 0.7,
                imgsz: int = 640, with_stats: bool = True) -> list[FrameResult]:
        """Detect objects in BGR uint8 frames (one batch); one FrameResult per frame."""
        frames = list(frames)
        if not frames:
            return []
        with self._lock:
            started = time.perf_counter()
            results = self.yolo.predict(frames, conf=conf, iou=iou, imgsz=imgsz, device=self.device,
                                        half=self.half, verbose=False, save=False)
            latency_ms = (time.perf_counter() - started) * 1000 / len(frames)
        return [self._frame_result(frame, result, latency_ms, with_stats) for frame, result in zip(frames, results)]

    def _frame_result(self, frame, result, latency_ms: float, with_stats: bool) -> FrameResult:
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy().tolist() if len(boxes) else []
        classes = boxes.cls.cpu().numpy().astype(int).tolist() if len(boxes) else []
        confs = boxes.conf.cpu().numpy().tolist() if len(boxes) else []
        detections, counts = [], {}
        for box, cid, score in zip(xyxy, classes, confs):
            name = self.names.get(cid, str(cid))
            label = self.entry.label(cid, name)
            counts[label] = counts.get(label, 0) + 1
            detections.append(Detection(box=tuple(round(v, 1) for v in box), class_id=cid, class_name=name,
                                        label=label, confidence=round(float(score), 4),
                                        is_pedestrian=self.entry.is_pedestrian(cid, name)))
        stats = image_stats(frame) if with_stats else None
        return FrameResult(detections=tuple(detections), stats=stats, latency_ms=round(latency_ms, 3),
                           device=self.device, model_id=self.model_id, model_sha256=self.sha256,
                           class_counts=counts)


def load_detector(weights: str | os.PathLike | None = None, settings: Settings | None = None) -> Detector:
    """Resolve, verify (SHA-256), check (restricted unpickler) and load weights once per process.

    Later calls reuse the model.
    """
    settings = settings or get_settings()
    entry = resolve_weights(weights, settings)
    path = entry.file_path()
    key = (entry.id, entry.sha256, str(path))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        verified = verified_copy(entry, settings)
        prepare_ultralytics_env(settings)
        # ultralytics unpickles in full: only a file the restricted unpickler accepted gets that far.
        try:
            inspect_detector_checkpoint(verified)
        except UserFacingError as exc:
            raise UserFacingError(f"weights {entry.id!r} ({path}): {exc}") from None
        from ultralytics import YOLO

        device, half = select_device()
        try:
            yolo = YOLO(str(verified), task="detect")
        except Exception as exc:  # a registered file that is not a YOLO checkpoint
            raise UserFacingError(f"weights {entry.id!r} ({verified}) could not be loaded as an ultralytics "
                                  f"checkpoint: {exc}") from None
        if getattr(yolo, "task", "detect") != "detect":
            raise UserFacingError(f"weights {entry.id!r} are a {yolo.task!r} model; a detection model is needed")
        yolo.model.eval()
        names = {int(k): str(v) for k, v in dict(yolo.names).items()}
        detector = Detector(entry=entry, yolo=yolo, device=device, half=half, names=names)
        if not detector.pedestrian_class_ids():
            raise UserFacingError(f"weights {entry.id!r} have no class that counts as pedestrian "
                                  f"(classes: {names}); register them with --pedestrian-class")
        _cache[key] = detector
        return detector


def get_yolo(weights: str | os.PathLike | None = None, settings: Settings | None = None):
    """The verified ultralytics ``YOLO`` object for ``weights`` (for the attack lab)."""
    return load_detector(weights, settings).yolo


def detect_files(paths: Sequence[str | Path], weights: str | None = None, settings: Settings | None = None,
                 conf: float = 0.25) -> list[FrameResult]:
    """Decode image files with the guards in :mod:`.images` and detect on each."""
    from secmlops_core.detector.images import load_image_file

    settings = settings or get_settings()
    frames = [load_image_file(path, settings) for path in paths]
    detector = load_detector(weights, settings)
    return [detector.predict([frame], conf=conf)[0] for frame in frames]
