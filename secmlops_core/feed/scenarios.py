"""Scenario transforms: real image changes that the real detector then measures.

Each transform takes a BGR uint8 frame and the frame index (for deterministic motion and
noise) and returns a new frame. They apply to any source; the sample feed is where an
operator switches them from the live page.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

SCENARIOS: dict[str, str] = {
    "normal": "Clear view, as captured",
    "night": "Low light: dark, blue cast, sensor noise",
    "fog": "Fog: washed-out contrast and blur",
    "rain": "Rain / noise: heavy sensor noise and rain streaks",
    "occlusion": "Occlusion: a large object slides across the scene",
    "tamper": "Camera tamper: lens covered and smeared",
}

_NIGHT_LUT = np.array([255 * (i / 255) ** 2.2 * 0.55 for i in range(256)], dtype=np.uint8)


def _noise(shape, sigma: float, index: int) -> np.ndarray:
    cv2.setRNGSeed(index)
    noise = np.empty(shape, dtype=np.float32)
    cv2.randn(noise, 0.0, sigma)
    return noise


def night(frame: np.ndarray, index: int) -> np.ndarray:
    dark = cv2.LUT(frame, _NIGHT_LUT).astype(np.float32)
    dark[:, :, 0] *= 1.15  # blue cast (BGR)
    dark[:, :, 2] *= 0.85
    dark += _noise(frame.shape, 6.0, index)
    return np.clip(dark, 0, 255).astype(np.uint8)


def fog(frame: np.ndarray, index: int) -> np.ndarray:
    blurred = cv2.GaussianBlur(frame, (0, 0), 2.0)
    return cv2.addWeighted(blurred, 0.35, np.full_like(frame, 215), 0.65, 0)


def rain(frame: np.ndarray, index: int) -> np.ndarray:
    noisy = frame.astype(np.float32) + _noise(frame.shape, 28.0, index)
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(index + 7)
    height, width = frame.shape[:2]
    length = max(8, height // 12)
    for x, y in zip(rng.integers(0, width, 220), rng.integers(0, height, 220)):
        cv2.line(out, (int(x), int(y)), (int(x) + length // 4, int(y) + length), (200, 200, 200), 1, cv2.LINE_AA)
    return out


def occlusion(frame: np.ndarray, index: int) -> np.ndarray:
    out = frame.copy()
    height, width = frame.shape[:2]
    band = int(width * 0.45)
    travel = width + band
    left = int((index * width / 40) % travel) - band
    x1, x2 = max(0, left), min(width, left + band)
    if x2 > x1:
        out[int(height * 0.1):, x1:x2] = (60, 60, 70)
    return out


def tamper(frame: np.ndarray, index: int) -> np.ndarray:
    smeared = cv2.blur(frame, (61, 61))
    covered = cv2.addWeighted(smeared, 0.25, np.full_like(frame, 20), 0.75, 0)
    return covered


_TRANSFORMS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "night": night, "fog": fog, "rain": rain, "occlusion": occlusion, "tamper": tamper,
}


def apply_scenario(frame: np.ndarray, scenario: str, index: int) -> np.ndarray:
    """The frame as the camera would see it under ``scenario`` ("normal" returns it unchanged)."""
    if scenario == "normal":
        return frame
    try:
        return _TRANSFORMS[scenario](frame, index)
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}") from None
