"""The pedestrian detector: SHA-256-pinned weights, loading, prediction, image statistics.

Public API:

- :func:`load_detector` -> :class:`Detector` (verified, cached per process); its
  ``predict(frames)`` returns one :class:`FrameResult` per frame.
- :func:`get_yolo` / ``Detector.torch_model``: the loaded ultralytics ``YOLO`` object and its
  ``torch.nn.Module``, for the attack lab (ART) to wrap.
- :mod:`.weights`: the registry (:func:`list_weights`, :func:`resolve_weights`,
  :func:`register_weights`).
- :mod:`.images`: guarded image decoding (size, megapixels, corrupt/truncated files).

Heavy imports (torch, ultralytics) happen inside functions so the app and CLI start fast.
"""

from secmlops_core.detector.model import Detector, get_yolo, load_detector
from secmlops_core.detector.results import Detection, FrameResult, ImageStats
from secmlops_core.detector.weights import WeightsEntry, list_weights, register_weights, resolve_weights

__all__ = [
    "Detection", "FrameResult", "ImageStats", "WeightsEntry", "list_weights", "register_weights",
    "resolve_weights", "load_detector", "get_yolo", "Detector",
]

