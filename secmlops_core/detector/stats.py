"""Per-frame image statistics for drift monitoring, cheap enough for every frame.

Computed on a luma copy downscaled to at most 320 px wide (INTER_AREA), so figures are
comparable across resolutions and cost ~1 ms; width/height are of the original frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from secmlops_core.detector.results import ImageStats

STATS_WIDTH = 320


def image_stats(frame_bgr: np.ndarray) -> ImageStats:
    """Brightness, contrast, sharpness, colourfulness, entropy and size of a BGR uint8 frame."""
    height, width = frame_bgr.shape[:2]
    small = frame_bgr
    if width > STATS_WIDTH:
        small = cv2.resize(frame_bgr, (STATS_WIDTH, max(1, round(height * STATS_WIDTH / width))),
                           interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    mean, std = cv2.meanStdDev(gray)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    b, g, r = (small[:, :, i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    p = hist[hist > 0] / hist.sum()
    entropy = float(-(p * np.log2(p)).sum())
    return ImageStats(width=int(width), height=int(height), brightness=float(mean[0, 0]),
                      contrast=float(std[0, 0]), sharpness=sharpness, colourfulness=colourfulness,
                      entropy=entropy)
