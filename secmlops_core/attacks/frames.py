"""Frames for the attack lab: sample images, uploads, live camera frames, and the attack-size conversion.

A frame is attacked at its *attack size*: resized once so its long side is ``imgsz`` and both
sides are multiples of 32. The detector then sees that frame without any further resizing,
so the perturbation reaches the network pixel for pixel.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from secmlops_core.detector.images import decode_image_bytes, load_image_file
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, get_settings

SAMPLES = {"bus": "bus.jpg", "zidane": "zidane.jpg"}


def sample_path(name: str) -> Path:
    """Path of a bundled ultralytics sample image (``bus`` or ``zidane``)."""
    from secmlops_core.feed.sources import sample_image_paths

    if name not in SAMPLES:
        raise UserFacingError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
    return next(p for p in sample_image_paths() if p.name == SAMPLES[name])


def load_source(ref: str, settings: Settings | None = None, data: bytes | None = None) -> np.ndarray:
    """Decode a frame (BGR uint8) from ``sample:<name>``, ``camera:<id>``, ``upload:<name>`` (+ data) or a path."""
    settings = settings or get_settings()
    kind, _, rest = ref.partition(":")
    if kind == "sample":
        return load_image_file(sample_path(rest), settings)
    if kind == "camera":
        from secmlops_core.feed import state as feeds

        jpeg = feeds.read_latest_frame(settings, rest)
        if not jpeg:
            raise UserFacingError(f"camera {rest!r} has no live frame yet; start its feed first")
        return decode_image_bytes(jpeg, f"latest frame of camera {rest}", settings)
    if kind == "upload":
        if data is None:
            raise UserFacingError("an uploaded image needs its bytes")
        return decode_image_bytes(data, rest or "upload", settings)
    return load_image_file(ref, settings)


def attack_size(height: int, width: int, imgsz: int) -> tuple[int, int]:
    """(h, w) with the long side ``imgsz`` and both sides multiples of 32 (at least 32)."""
    scale = imgsz / max(height, width)
    return (max(32, int(round(height * scale / 32)) * 32), max(32, int(round(width * scale / 32)) * 32))


def to_attack_frame(frame_bgr: np.ndarray, imgsz: int) -> np.ndarray:
    """The frame resized to its attack size (BGR uint8)."""
    h, w = attack_size(*frame_bgr.shape[:2], imgsz)
    if (h, w) == frame_bgr.shape[:2]:
        return frame_bgr.copy()
    interpolation = cv2.INTER_AREA if h < frame_bgr.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(frame_bgr, (w, h), interpolation=interpolation)


def bgr_to_nchw(frame_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 HWC -> RGB float32 NCHW in [0, 1] (batch of one)."""
    return np.ascontiguousarray(frame_bgr[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def nchw_to_bgr(x: np.ndarray) -> np.ndarray:
    """RGB float NCHW in [0, 1] (first image) -> BGR uint8 HWC, rounded as a saved frame would be."""
    rgb = np.clip(np.asarray(x)[0].transpose(1, 2, 0), 0, 1)
    return np.ascontiguousarray((rgb * 255).round().astype(np.uint8)[:, :, ::-1])


def quantise(x: np.ndarray) -> np.ndarray:
    """Round an NCHW [0, 1] batch to 8-bit levels (what reaches a camera pipeline)."""
    return (np.clip(x, 0, 1) * 255).round().astype(np.float32) / 255.0


def perturbation_image(clean_bgr: np.ndarray, attacked_bgr: np.ndarray) -> tuple[np.ndarray, float]:
    """The difference magnified to the full 0..255 range around grey; returns (image, magnification)."""
    diff = attacked_bgr.astype(np.float32) - clean_bgr.astype(np.float32)
    peak = float(np.abs(diff).max())
    gain = 127.0 / peak if peak > 0 else 1.0
    return np.clip(128 + diff * gain, 0, 255).astype(np.uint8), gain


def sample_images(settings: Settings | None = None) -> list[tuple[str, np.ndarray]]:
    """[(file name, BGR frame)] for every bundled sample image."""
    return [(SAMPLES[name], load_source(f"sample:{name}", settings)) for name in SAMPLES]
