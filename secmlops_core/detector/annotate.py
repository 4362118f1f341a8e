"""Drawing detections onto frames (OpenCV; no font downloads) and JPEG encoding."""

from __future__ import annotations

import cv2
import numpy as np

from secmlops_core.detector.results import FrameResult

PEDESTRIAN_BGR = (80, 220, 60)
OTHER_BGR = (230, 170, 40)


def annotate(frame_bgr: np.ndarray, result: FrameResult, max_width: int = 960) -> np.ndarray:
    """A copy of the frame (downscaled to ``max_width``) with boxes, labels and confidences."""
    height, width = frame_bgr.shape[:2]
    scale = min(1.0, max_width / width)
    canvas = cv2.resize(frame_bgr, (round(width * scale), round(height * scale)),
                        interpolation=cv2.INTER_AREA) if scale < 1 else frame_bgr.copy()
    thickness = max(1, round(canvas.shape[1] / 400))
    for det in result.detections:
        x1, y1, x2, y2 = (int(round(v * scale)) for v in det.box)
        colour = PEDESTRIAN_BGR if det.is_pedestrian else OTHER_BGR
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness + 1)
        text = f"{det.label} {det.confidence:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(0, y1 - th - base - 4)
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 6, top + th + base + 4), colour, -1)
        cv2.putText(canvas, text, (x1 + 3, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def encode_jpeg(frame_bgr: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR frame."""
    ok, buffer = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def to_rgb(frame_bgr: np.ndarray) -> np.ndarray:
    """RGB view for display libraries (Streamlit, PIL)."""
    return np.ascontiguousarray(frame_bgr[:, :, ::-1])
