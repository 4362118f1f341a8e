"""Frame sources for the feed runner: video file, image folder, RTSP/HTTP stream, webcam, sample."""

from __future__ import annotations

import hashlib
import io
import math
import re
import stat
import threading
from pathlib import Path

import cv2
import numpy as np

from secmlops_core.detector.images import IMAGE_SUFFIXES, check_megapixels, load_image_file
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import DEFAULT_SAMPLE_VIDEO, Settings

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
    note: str | None = None  # why this source is not the one asked for (e.g. the stills fallback)

    def __init__(self, spec: str, settings: Settings):
        self.spec = spec
        self.settings = settings

    def open(self) -> None:
        """Prepare to read; raises SourceUnavailable (retry) or UserFacingError (give up)."""

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    @property
    def description(self) -> str:
        """What this source is, in plain words, for the feed status (no URL: it may hold credentials)."""
        if self.kind in {"images", "video"}:
            return f"{'Video file' if self.kind == 'video' else 'Images'} {Path(self.spec).name}"
        return {"stream": "Network stream", "webcam": f"Webcam {self.spec}"}.get(self.kind, self.kind)

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
    """The still-photo sample camera: ultralytics' bus.jpg and zidane.jpg with pan/zoom and day/night.

    The fallback of the sample camera when the street video is not available (see
    :func:`sample_source`). Scenes alternate every ``scene_seconds``; the crop drifts and zooms
    smoothly; a day/night cycle of ``day_seconds`` scales brightness between 100 % and 55 %.
    Time is the frame index divided by the nominal fps, plus ``offset`` seconds, so the same
    frame index always gives the same picture.
    """

    kind = "sample"
    live = True
    default_fps = 2.0
    paced_by_runner = True  # the runner sets ``fps`` to its own nominal rate

    def __init__(self, spec: str, settings: Settings, fps: float | None = None,
                 scene_seconds: float = 20.0, day_seconds: float = 600.0, width: int = 640, offset: float = 0.0):
        super().__init__(spec, settings)
        self.fps = fps or self.default_fps
        self.scene_seconds = scene_seconds
        self.day_seconds = day_seconds
        self.width = width
        self.offset = float(offset)
        self.index = 0

    @property
    def loop_seconds(self) -> float:
        """Both photos once (the pan, zoom and day/night cycles run on independently)."""
        return 2 * self.scene_seconds

    @property
    def description(self) -> str:
        return f"Still photos (ultralytics bus.jpg and zidane.jpg), panned and zoomed{_from_offset(self.offset)}"

    def open(self) -> None:
        self.images = [load_image_file(path, self.settings) for path in sample_image_paths()]

    def frame_at(self, index: int) -> np.ndarray:
        """The sample frame for a given frame index (deterministic)."""
        t = index / self.fps + self.offset
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
        index, self.index = self.index, self.index + 1  # a frame that fails is skipped, not retried
        return self.frame_at(index)


# -- the street video -------------------------------------------------------------------------
# OpenCV's sample video examples/data/vtest.avi as Debian's opencv-doc package ships it
# (Apache-2.0 AND BSD-3-Clause); `make sample-video` (scripts/fetch_sample_video.sh) fetches it.
SAMPLE_VIDEO_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
SAMPLE_VIDEO_TITLE = "OpenCV vtest.avi"
SAMPLE_VIDEO_MAX_BYTES = 64 * 2**20  # the real one is 8,131,690 bytes; nothing larger is read
_REPO_ROOT = Path(__file__).resolve().parents[2]
_verified: dict[tuple[str, int, int], tuple[str, bytes | None]] = {}  # (path, size, mtime_ns) -> (sha256, bytes)
_verified_lock = threading.Lock()


class SampleVideoUnavailable(UserFacingError):
    """The sample video is missing, unreadable or not the pinned file; ``summary`` says which."""

    def __init__(self, summary: str):
        self.summary = summary
        super().__init__(summary)

    @property
    def note(self) -> str:
        """What the feed status says when the stills play instead."""
        return f"{self.summary}: showing still photos"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(_REPO_ROOT))
    except ValueError:
        return str(path)


def verified_video_bytes(path: Path, expected_sha256: str) -> bytes:
    """The file's bytes when their SHA-256 is ``expected_sha256``; else SampleVideoUnavailable.

    Hashed once per process for a given path, size and modification time. The bytes returned
    are the very bytes hashed (they are decoded from memory), so a file swapped after the check
    is never the one decoded.
    """
    path = Path(path)
    shown = _shown(path)
    hint = "; run `make sample-video`" if path.resolve() == DEFAULT_SAMPLE_VIDEO else ""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SampleVideoUnavailable(f"Sample video not available ({shown} missing{hint})") from None
    except OSError as exc:
        raise SampleVideoUnavailable(f"Sample video not available ({shown}: {exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SampleVideoUnavailable(f"Sample video not available ({shown} is not a file)")
    if info.st_size > SAMPLE_VIDEO_MAX_BYTES:
        raise SampleVideoUnavailable(f"Sample video refused ({shown} is {info.st_size:,} bytes, larger than "
                                     f"{SAMPLE_VIDEO_MAX_BYTES // 2**20} MiB: not the pinned file)")
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    expected = expected_sha256.lower()
    with _verified_lock:
        cached = _verified.get(key)
        if cached is None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SampleVideoUnavailable(f"Sample video not available ({shown}: {exc.strerror or exc})") from None
            digest = hashlib.sha256(data).hexdigest()
            cached = (digest, data if digest == expected else None)
            if len(_verified) >= 8:
                _verified.pop(next(iter(_verified)))
            _verified[key] = cached
    digest, data = cached
    if digest != expected or data is None:
        raise SampleVideoUnavailable(f"Sample video refused ({shown}: SHA-256 {digest[:16]}… is not the pinned "
                                     f"{expected[:16]}…; not loaded)")
    return data


class _MemoryCapture:
    """A VideoCapture over bytes in memory. It keeps the stream object alive for as long as the
    capture reads from it (OpenCV does not hold a reference; a collected stream crashes it)."""

    def __init__(self, data: bytes):
        self._stream = io.BytesIO(data)
        self._capture = cv2.VideoCapture(self._stream, cv2.CAP_FFMPEG, [])

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._capture.isOpened()

    def grab(self) -> bool:
        return self._capture.grab()

    def read(self):
        return self._capture.read()

    def get(self, prop: int) -> float:
        return self._capture.get(prop)

    def release(self) -> None:
        """The capture first, then the stream it reads."""
        if getattr(self, "_capture", None) is not None:
            self._capture.release()
            self._capture = None
        self._stream = None

    def __del__(self):
        self.release()


class SampleVideoSource(FrameSource):
    """The sample camera: a street seen from above (OpenCV's vtest.avi), looped at its own frame rate.

    The runner processes frames at its own pace (``fps``, 2 by default); processed frame
    ``index`` shows the video frame at video time ``index / fps + offset`` seconds, wrapped at
    the end of the video. At 2 fps over a 10 fps video that is every 5th frame. :meth:`frame_at`
    is deterministic in the index (frames are decoded in order from the start of the verified
    bytes held in memory; going back re-decodes from the start). ``offset`` lets a second
    camera show the same street at another moment.
    """

    kind = "sample"
    live = True
    default_fps = 2.0
    paced_by_runner = True  # the runner sets ``fps`` to its own nominal rate

    def __init__(self, spec: str, settings: Settings, fps: float | None = None, offset: float = 0.0,
                 path: str | Path | None = None, expected_sha256: str | None = None,
                 title: str = SAMPLE_VIDEO_TITLE):
        super().__init__(spec, settings)
        self.fps = fps or self.default_fps
        self.offset = float(offset)
        self.path = Path(path) if path is not None else settings.sample_video
        self.expected_sha256 = expected_sha256 or SAMPLE_VIDEO_SHA256
        self.title = title
        self.index = 0
        self.frame_count = 0
        self.video_fps = 0.0
        self._data: bytes | None = None
        self._capture: _MemoryCapture | None = None
        self._next = 0  # index of the frame the capture delivers next
        self._last: tuple[int, np.ndarray] | None = None

    # -- opening ---------------------------------------------------------------------------
    def open(self) -> None:
        """Verify the file (SHA-256), then decode it once to count its frames.

        Raises SampleVideoUnavailable with a plain reason when it is missing, not the pinned
        file or not decodable; :func:`sample_source` then falls back to the still photos.
        """
        if self._data is None:
            data = verified_video_bytes(self.path, self.expected_sha256)
            capture = self._capture_of(data)
            fps = capture.get(cv2.CAP_PROP_FPS)
            count = 0
            while capture.grab():
                count += 1
            capture.release()
            if not count or not fps or not math.isfinite(fps) or fps <= 0:
                raise SampleVideoUnavailable(f"Sample video not readable ({_shown(self.path)}: OpenCV decodes "
                                             f"{count} frames at {fps or 0:g} fps)")
            self._data, self.frame_count, self.video_fps = data, count, float(fps)
        self._restart()

    def _capture_of(self, data: bytes) -> _MemoryCapture:
        try:
            capture = _MemoryCapture(data)
        except cv2.error as exc:
            raise SampleVideoUnavailable(f"Sample video not readable ({_shown(self.path)}: {exc})") from None
        if not capture.isOpened():
            capture.release()
            raise SampleVideoUnavailable(f"Sample video not readable ({_shown(self.path)}: OpenCV cannot open it)")
        return capture

    def _restart(self) -> None:
        self.close()
        self._capture = self._capture_of(self._data)
        self._next = 0

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    # -- time ------------------------------------------------------------------------------
    @property
    def loop_seconds(self) -> float:
        """Length of the video (one loop), seconds."""
        return self.frame_count / self.video_fps if self.video_fps else 0.0

    @property
    def description(self) -> str:
        return f"Street video ({self.title}), loop {self.loop_seconds:.1f} s{_from_offset(self.offset)}"

    def video_time(self, index: int) -> float:
        """Seconds into the video (before wrapping) that processed frame ``index`` shows."""
        return index / self.fps + self.offset

    def video_frame_index(self, index: int) -> int:
        """The video frame (0 .. frame_count - 1) that processed frame ``index`` shows."""
        return math.floor(self.video_time(index) * self.video_fps + 1e-6) % self.frame_count

    # -- frames ----------------------------------------------------------------------------
    def frame_at(self, index: int) -> np.ndarray:
        """The sample frame for processed frame ``index`` (deterministic; BGR uint8, the video's size)."""
        return self.video_frame(self.video_frame_index(index))

    def video_frame(self, number: int) -> np.ndarray:
        """Video frame ``number`` (0-based), decoded in order from the start of the video."""
        if self._last is not None and self._last[0] == number:
            return self._last[1].copy()
        if self._capture is None or number < self._next:
            self._restart()
        while self._next < number:
            if not self._capture.grab():
                self._lost(number)
            self._next += 1
        ok, frame = self._capture.read()
        if not ok or frame is None:
            self._lost(number)
        self._next += 1
        frame = self._checked(frame)
        self._last = (number, frame)
        return frame.copy()

    def _lost(self, number: int):
        self.close()  # the next read starts again from the first frame
        raise SourceUnavailable(f"sample video: frame {number} of {self.frame_count} could not be decoded")

    def read(self) -> np.ndarray:
        index, self.index = self.index, self.index + 1  # a frame that fails is skipped, not retried
        return self.frame_at(index)


def _from_offset(offset: float) -> str:
    return f", starting {offset:.1f} s in" if offset else ""


def sample_source(settings: Settings, fps: float | None = None, offset: float = 0.0, *,
                  path: str | Path | None = None, expected_sha256: str | None = None) -> FrameSource:
    """The sample camera: the street video when it is there and verifies, else the still photos.

    The stills fallback carries ``note`` (why, in one sentence), which the runner publishes in
    the feed status as ``source_note``. ``path`` defaults to ``settings.sample_video`` and
    ``expected_sha256`` to the pinned vtest.avi hash.
    """
    video = SampleVideoSource("sample", settings, fps=fps, offset=offset, path=path, expected_sha256=expected_sha256)
    try:
        video.open()
    except SampleVideoUnavailable as exc:
        video.close()
        stills = SampleSource("sample", settings, fps=fps, offset=offset)
        stills.note = exc.note
        return stills
    return video


def sample_loop_seconds(settings: Settings) -> float:
    """Length of one loop of the sample camera as it would play now (video, else the stills).

    Cheap: the video is hash-checked (once per process) and its length read from its header.
    """
    try:
        data = verified_video_bytes(settings.sample_video, SAMPLE_VIDEO_SHA256)
        capture = _MemoryCapture(data)
        try:
            count, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
        finally:
            capture.release()
        if count > 0 and fps > 0:
            return count / fps
    except (SampleVideoUnavailable, cv2.error):
        pass
    return SampleSource("sample", settings).loop_seconds


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


def open_source(spec: str, settings: Settings, fps: float | None = None, offset: float = 0.0) -> FrameSource:
    """Pick the source type for ``--source`` (sample, webcam index, URL, folder, image or video file).

    ``offset`` (seconds) applies to the sample camera only: where in its loop it starts.
    """
    spec = spec.strip()
    if spec == "sample":
        return sample_source(settings, fps=fps, offset=offset)
    if offset:
        raise UserFacingError("an offset applies to the sample camera only (--source sample)")
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
