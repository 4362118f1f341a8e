"""The feed runner: frames in, detector, one telemetry event per frame, status and latest frame out.

One runner per camera, each its own process (``secmlops feed``). It never touches the DuckDB
store: events go to the telemetry lake (``secmlops_core.telemetry``), status/control/latest
frame to ``settings.feeds_dir/<camera>/`` (``secmlops_core.feed.state``).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from secmlops_core.detector.annotate import annotate, encode_jpeg
from secmlops_core.detector.results import FrameResult
from secmlops_core.errors import UserFacingError
from secmlops_core.feed.scenarios import SCENARIOS, apply_scenario
from secmlops_core.feed.sources import BadFrame, FrameSource, SourceUnavailable
from secmlops_core.feed.state import (
    FeedStatus, camera_dir, read_control, validate_camera_id, write_latest_frame, write_status,
)
from secmlops_core.settings import Settings
from secmlops_core.telemetry.writer import TelemetryWriter, utc_now

STATUS_EVERY_S = 1.0
LATEST_EVERY_S = 0.5
CONTROL_EVERY_S = 0.5
COMPACT_EVERY_S = 30.0
BACKOFF_START_S, BACKOFF_MAX_S = 1.0, 30.0


@dataclass
class RunSummary:
    """What a run did (printed by ``secmlops feed`` at exit)."""

    camera_id: str
    frames: int
    events_written: int
    skipped: int
    retries: int
    seconds: float
    last_error: str
    state: str


def build_event(result: FrameResult, *, ts, camera_id: str, runner_id: str, frame_index: int, source_kind: str,
                scenario: str, frame_ms: float) -> dict:
    """One telemetry event (a row of ``EVENT_SCHEMA``) from a detector result."""
    confidences = result.confidences
    stats = result.stats
    return {
        "ts": ts, "camera_id": camera_id, "runner_id": runner_id, "frame_index": frame_index,
        "source_kind": source_kind, "scenario": scenario, "model_id": result.model_id,
        "model_sha256": result.model_sha256, "device": result.device, "latency_ms": result.latency_ms,
        "frame_ms": frame_ms, "width": stats.width, "height": stats.height,
        "detections": len(result.detections), "pedestrians": result.pedestrians,
        "class_counts": result.class_counts,
        "mean_confidence": float(np.mean(confidences)) if confidences else None,
        "min_confidence": float(min(confidences)) if confidences else None,
        "brightness": stats.brightness, "contrast": stats.contrast, "sharpness": stats.sharpness,
        "colourfulness": stats.colourfulness, "entropy": stats.entropy,
    }


def _bound_torch_threads(threads: int, first: bool = False) -> None:
    """At most ``threads`` CPU threads for torch in this process, so feeds leave the app a core.

    Applied before the model loads and again after predictions: ultralytics resets torch's
    thread count (to the CPU count less one) when its predictor selects the device.
    """
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if first:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass  # fixed for good once parallel work has run in this process


class FeedRunner:
    """Drives one camera until its source ends, ``duration`` passes or :meth:`request_stop`."""

    def __init__(self, source: FrameSource, camera_id: str, settings: Settings, *, fps: float | None = None,
                 duration: float | None = None, weights: str | None = None, scenario: str = "normal",
                 flush_interval_s: float = 1.0, compact_every_s: float = COMPACT_EVERY_S,
                 torch_threads: int | None = None):
        self.source = source
        self.camera_id = validate_camera_id(camera_id)
        self.settings = settings
        paced = getattr(source, "paced_by_runner", False)
        self.fps = fps or (source.fps if paced else None) or source.default_fps
        if paced:
            source.fps = self.fps  # the sample camera's time advances 1/fps per processed frame
        self.torch_threads = torch_threads
        self.duration = duration
        self.weights = weights
        if scenario not in SCENARIOS:
            raise UserFacingError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.compact_every_s = compact_every_s
        self.writer = TelemetryWriter(settings.telemetry_dir, self.camera_id, flush_interval_s=flush_interval_s)
        self._stop = threading.Event()
        self._compactor: threading.Thread | None = None
        self.status = FeedStatus(camera_id=self.camera_id, source=source.spec, source_kind=source.kind,
                                 scenario=scenario, pid=os.getpid(), target_fps=self.fps)
        self._describe_source()

    def _describe_source(self) -> None:
        """The source's plain description and, where it is a fallback, why (shown on Live and the wall)."""
        self.status.source_description = self.source.description
        self.status.source_note = self.source.note

    def request_stop(self, *_args) -> None:
        """Stop after the current frame (safe to call from a signal handler)."""
        self._stop.set()

    # -- main loop -------------------------------------------------------------------------
    def run(self) -> RunSummary:
        """Run to the end; always flushes telemetry and publishes a final status."""
        from secmlops_core.detector.model import load_detector

        started = time.monotonic()
        self.status.started_at = time.time()
        camera_dir(self.settings, self.camera_id).mkdir(parents=True, exist_ok=True)
        self._control_mtime = self._initial_control()
        self._publish(force=True)
        try:
            if self.torch_threads:
                _bound_torch_threads(self.torch_threads, first=True)
            detector = load_detector(self.weights, self.settings)
            self.status.model_id, self.status.device = detector.model_id, detector.device
            self._open_with_retry(started)
            self._describe_source()
            self._loop(detector, started)
            if self.status.state not in {"failed"}:
                self.status.state = "stopped"
        except UserFacingError as exc:
            self.status.state, self.status.last_error = "failed", str(exc)
            raise
        except BaseException as exc:
            self.status.state, self.status.last_error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.writer.flush()
            if self.writer.write_error:
                self.status.last_error = (f"telemetry not written at shutdown: {self.writer.write_error}; "
                                          f"{self.writer.buffered} events lost")
            self.source.close()
            if self._compactor is not None:
                self._compactor.join(timeout=30)
            self._publish(force=True)
        return RunSummary(self.camera_id, self.status.frames, self.writer.events_written, self.status.skipped,
                          self.status.retries, round(time.monotonic() - started, 2), self.status.last_error,
                          self.status.state)

    def _expired(self, started: float) -> bool:
        return self._stop.is_set() or (self.duration is not None and time.monotonic() - started >= self.duration)

    def _loop(self, detector, started: float) -> None:
        index, next_tick = 0, time.monotonic()
        last_latest = last_control = last_compact = 0.0
        rate_window: list[float] = []
        while not self._expired(started):
            now = time.monotonic()
            if now - last_control >= CONTROL_EVERY_S:
                self._poll_control()
                last_control = now
            try:
                frame = self.source.read()
            except BadFrame as exc:
                self.status.skipped += 1
                self.status.last_error = str(exc)
                self._publish()
                continue
            except SourceUnavailable as exc:
                self._reconnect(str(exc), started)
                continue
            if frame is None:
                break
            ts = utc_now()
            t0 = time.perf_counter()
            frame = apply_scenario(frame, self.scenario, index)
            result = detector.predict([frame])[0]
            frame_ms = (time.perf_counter() - t0) * 1000
            if self.torch_threads:
                _bound_torch_threads(self.torch_threads)
            self.writer.add(build_event(result, ts=ts, camera_id=self.camera_id, runner_id=self.writer.runner_id,
                                        frame_index=index, source_kind=self.source.kind, scenario=self.scenario,
                                        frame_ms=round(frame_ms, 3)))
            self.writer.maybe_flush()
            index += 1
            done = time.monotonic()
            rate_window = [t for t in rate_window if done - t <= 10.0] + [done]
            self._note_telemetry_health()
            self.status.frames = index
            self.status.last_frame_at = time.time()
            self.status.last_pedestrians = result.pedestrians
            self.status.last_latency_ms = result.latency_ms
            self.status.retries = 0
            if len(rate_window) > 1:
                self.status.fps = round((len(rate_window) - 1) / (rate_window[-1] - rate_window[0]), 2)
            if done - last_latest >= LATEST_EVERY_S:
                write_latest_frame(self.settings, self.camera_id, encode_jpeg(annotate(frame, result)))
                last_latest = done
            self._publish()
            if done - last_compact >= self.compact_every_s:
                self._compact_in_background()
                last_compact = done
            if self.fps:
                next_tick = max(next_tick + 1.0 / self.fps, done - 1.0 / self.fps)
                self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def _note_telemetry_health(self) -> None:
        """Detection goes on while telemetry cannot be written; the status says so plainly."""
        writer = self.writer
        self.status.telemetry_buffered, self.status.telemetry_dropped = writer.buffered, writer.events_dropped
        if writer.write_error:
            self.status.state = "degraded"
            dropped = f", {writer.events_dropped} dropped" if writer.events_dropped else ""
            self.status.last_error = (f"telemetry not written: {writer.write_error}; {writer.buffered} events held "
                                      f"in memory{dropped}; retrying every {writer.flush_interval_s:g} s")
        else:
            if self.status.state == "degraded":
                self.status.last_error = ""
            self.status.state = "up"

    # -- source failures -------------------------------------------------------------------
    def _open_with_retry(self, started: float) -> None:
        while not self._expired(started):
            try:
                self.source.open()
                return
            except SourceUnavailable as exc:
                self._backoff(str(exc), started)

    def _reconnect(self, error: str, started: float) -> None:
        self.writer.flush()
        self._backoff(error, started)
        self._open_with_retry(started)

    def _backoff(self, error: str, started: float) -> None:
        """Wait before the next attempt: 1 s, 2 s, 4 s ... up to 30 s, publishing the wait."""
        delay = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** self.status.retries)
        self.status.retries += 1
        self.status.state = "retrying"
        self.status.last_error = error
        self.status.next_retry_at = time.time() + delay
        deadline = time.monotonic() + delay
        while not self._expired(started) and time.monotonic() < deadline:
            self._publish(force=True)
            self._stop.wait(min(STATUS_EVERY_S, max(0.0, deadline - time.monotonic())))

    # -- files -----------------------------------------------------------------------------
    def _initial_control(self) -> float:
        path = camera_dir(self.settings, self.camera_id) / "control.json"
        return path.stat().st_mtime if path.exists() else 0.0

    def _poll_control(self) -> None:
        path = camera_dir(self.settings, self.camera_id) / "control.json"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self._control_mtime:
            return
        self._control_mtime = mtime
        scenario = read_control(self.settings, self.camera_id).get("scenario")
        if scenario in SCENARIOS and scenario != self.scenario:
            self.writer.flush()  # events of the old scenario are on disk before the switch
            self.scenario = self.status.scenario = scenario

    def _publish(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self.status.heartbeat_at >= STATUS_EVERY_S:
            self.status.heartbeat_at = now
            write_status(self.settings, self.status)

    def _compact_in_background(self) -> None:
        if self._compactor is not None and self._compactor.is_alive():
            return
        from secmlops_core.telemetry.lake import compact

        def work():
            try:
                compact(self.settings.telemetry_dir, retention_days=self.settings.telemetry_retention_days)
            except Exception as exc:  # compaction is best effort; the next pass retries
                self.status.last_error = f"telemetry compaction: {exc}"

        self._compactor = threading.Thread(target=work, name="telemetry-compaction", daemon=True)
        self._compactor.start()
