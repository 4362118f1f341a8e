"""Frame sources for the feed runner: video file, image folder, RTSP/HTTP stream, webcam, sample."""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np

from secmlops_core.detector.images import IMAGE_SUFFIXES, check_megapixels, load_image_file
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://")


class SourceUnavailable(Exception):
    """The source cannot deliver frames right now (stream down, webcam busy); retry later."""


class BadFrame(Exception):
    """One frame could not be used (corrupt file); the runner skips it and records why."""


class FrameSource:
    """Base class. ``read`` returns a BGR uint8 frame, or None at the end of a finite source."""

    kind = "source"
    live = False  # live sources are paced by the clock and reconnected when they fail
    default_fps: float | None = None

    def __init__(self, spec: str, settings: Settings):
        self.spec = spec
        self.settings = settings

    def open(self) -> None:
        """Prepare to read; raises SourceUnavailable (retry) or UserFacingError (give up)."""

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def _checked(self, frame: np.ndarray) -> np.ndarray:
        try:
            check_megapixels(frame.shape[1], frame.shape[0], self.spec, self.settings)
        except UserFacingError as exc:
            raise BadFrame(str(exc)) from None
        return frame


class ImageFolderSource(FrameSource):
    """Every image file of a folder (sorted by name), once; a single image file works too."""

    kind = "images"

    def open(self) -> None:
        path = Path(self.spec)
        files = [path] if path.is_file() else sorted(p for p in path.iterdir()
                                                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserFacingError(f"{path}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self._files = iter(files)

    def read(self) -> np.ndarray | None:
        path = next(self._files, None)
        if path is None:
            return None
        try:
            return load_image_file(path, self.settings)
        except UserFacingError as exc:
            raise BadFrame(str(exc)) from None


class _CaptureSource(FrameSource):
    """OpenCV VideoCapture-backed sources."""

    def _capture_for(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(self.spec)

    def open(self) -> None:
        self.close()
        capture = self._capture_for()
        if not capture.isOpened():
            capture.release()
            self._on_open_failure()
        self._capture = capture

    def _on_open_failure(self):
        raise SourceUnavailable(f"cannot open {self.spec}")

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return self._on_read_failure()
        return self._checked(frame)

    def _on_read_failure(self):
        raise SourceUnavailable(f"lost {self.spec}: no frame received")

    def close(self) -> None:
        capture = getattr(self, "_capture", None)
        if capture is not None:
            capture.release()
            self._capture = None


class VideoFileSource(_CaptureSource):
    """A video file, decoded once from start to end."""

    kind = "video"

    def open(self) -> None:
        path = Path(self.spec)
        if path.stat().st_size == 0:
            raise UserFacingError(f"{path}: the video file is empty (0 bytes)")
        super().open()
        if self._capture.get(cv2.CAP_PROP_FRAME_COUNT) <= 0:
            ok, _ = self._capture.read()
            if not ok:
                raise UserFacingError(f"{path}: not a readable video (corrupt, truncated or unsupported codec)")
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def _on_open_failure(self):
        raise UserFacingError(f"{self.spec}: not a readable video (corrupt, truncated or unsupported codec)")

    def _on_read_failure(self):
        return None  # end of file (or a truncated tail: the runner ends cleanly)


class StreamSource(_CaptureSource):
    """An RTSP/HTTP(S) stream; failures raise SourceUnavailable so the runner reconnects with backoff."""

    kind = "stream"
    live = True
    timeout_ms = 5000

    def _capture_for(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms,
                                                           cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms])


class WebcamSource(_CaptureSource):
    """A local camera by OpenCV index."""

    kind = "webcam"
    live = True

    def _capture_for(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(int(self.spec))


class SampleSource(FrameSource):
    """The built-in sample camera: ultralytics' bus.jpg and zidane.jpg with pan/zoom and day/night.

    Scenes alternate every ``scene_seconds``; the crop drifts and zooms smoothly; a day/night
    cycle of ``day_seconds`` scales brightness between 100 % and 55 %. Time is the frame index
    divided by the nominal fps, so the same frame index always gives the same picture.
    """

    kind = "sample"
    live = True
    default_fps = 2.0

    def __init__(self, spec: str, settings: Settings, fps: float | None = None,
                 scene_seconds: float = 20.0, day_seconds: float = 600.0, width: int = 640):
        super().__init__(spec, settings)
        self.fps = fps or self.default_fps
        self.scene_seconds = scene_seconds
        self.day_seconds = day_seconds
        self.width = width
        self.index = 0

    def open(self) -> None:
        self.images = [load_image_file(path, self.settings) for path in sample_image_paths()]

    def frame_at(self, index: int) -> np.ndarray:
        """The sample frame for a given frame index (deterministic)."""
        t = index / self.fps
        image = self.images[int(t // self.scene_seconds) % len(self.images)]
        height, width = image.shape[:2]
        zoom = 0.86 + 0.12 * math.sin(2 * math.pi * t / 37.0)
        crop_w, crop_h = int(width * zoom), int(height * zoom)
        x = int((width - crop_w) * (0.5 + 0.5 * math.sin(2 * math.pi * t / 23.0)))
        y = int((height - crop_h) * (0.5 + 0.5 * math.cos(2 * math.pi * t / 31.0)))
        crop = image[y:y + crop_h, x:x + crop_w]
        out_h = round(crop_h * self.width / crop_w)
        frame = cv2.resize(crop, (self.width, out_h), interpolation=cv2.INTER_AREA)
        daylight = 0.775 + 0.225 * math.cos(2 * math.pi * t / self.day_seconds)
        return cv2.convertScaleAbs(frame, alpha=daylight, beta=0)

    def read(self) -> np.ndarray:
        frame = self.frame_at(self.index)
        self.index += 1
        return frame


def sample_image_paths() -> list[Path]:
    """bus.jpg and zidane.jpg from the installed ultralytics package (never copied into the repo)."""
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise UserFacingError("the sample feed needs the ultralytics package, which is not installed")
    assets = Path(list(spec.submodule_search_locations)[0]) / "assets"
    paths = [assets / "bus.jpg", assets / "zidane.jpg"]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserFacingError(f"sample images missing from the ultralytics package: {', '.join(missing)}")
    return paths


def open_source(spec: str, settings: Settings, fps: float | None = None) -> FrameSource:
    """Pick the source type for ``--source`` (sample, webcam index, URL, folder, image or video file)."""
    spec = spec.strip()
    if spec == "sample":
        return SampleSource(spec, settings, fps=fps)
    if re.fullmatch(r"\d{1,2}", spec):
        return WebcamSource(spec, settings)
    if spec.lower().startswith(STREAM_SCHEMES):
        return StreamSource(spec, settings)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(str(path), settings)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFolderSource(str(path), settings)
        return VideoFileSource(str(path), settings)
    raise UserFacingError(f"--source {spec!r}: not 'sample', a webcam index, a stream URL "
                          f"({', '.join(STREAM_SCHEMES)}), a folder or a file")
