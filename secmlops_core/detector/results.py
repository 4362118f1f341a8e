"""Typed detector results: what a page, the feed runner or a report consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Detection:
    """One detected object; ``box`` is (x1, y1, x2, y2) in pixels of the input frame."""

    box: tuple[float, float, float, float]
    class_id: int
    class_name: str  # the model's own class name (e.g. "Normal", "person")
    label: str  # what the UI shows (e.g. "pedestrian (upright)")
    confidence: float
    is_pedestrian: bool


@dataclass(frozen=True)
class ImageStats:
    """Per-frame image statistics used for drift monitoring (see ``detector.stats``)."""

    width: int
    height: int
    brightness: float  # mean luma, 0..255
    contrast: float  # std of luma
    sharpness: float  # variance of the Laplacian (on a 320-px-wide luma copy)
    colourfulness: float  # Hasler & Suesstrunk (2003)
    entropy: float  # Shannon entropy of the luma histogram, bits (0..8)


@dataclass(frozen=True)
class FrameResult:
    """Detections on one frame plus its image statistics, latency and model identity."""

    detections: tuple[Detection, ...]
    stats: ImageStats
    latency_ms: float
    device: str
    model_id: str
    model_sha256: str
    class_counts: dict[str, int] = field(default_factory=dict)

    @property
    def pedestrians(self) -> int:
        """Number of detections whose class counts as a pedestrian."""
        return sum(1 for d in self.detections if d.is_pedestrian)

    @property
    def confidences(self) -> list[float]:
        return [d.confidence for d in self.detections]

    def to_dict(self) -> dict:
        """JSON-ready form (used by ``secmlops detect --json``)."""
        data = asdict(self)
        data["pedestrians"] = self.pedestrians
        return data
