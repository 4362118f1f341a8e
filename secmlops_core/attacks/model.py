"""The detector as an attack target: a float32 copy on the attack device, its loss, ART wrappers.

ART's own ultralytics wrapper (``PyTorchYolo(is_ultralytics=True)``) indexes ultralytics 8.4's
loss components by position and fails; :class:`YoloLossAdapter` returns
``{"loss_total": loss.sum()}`` from ``model.loss(batch)`` instead, which ART's
``PyTorchYolo(..., attack_losses=("loss_total",))`` consumes. Inputs are RGB float in [0, 1], NCHW.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from secmlops_core.detector.results import Detection, FrameResult
from secmlops_core.detector.weights import WeightsEntry
from secmlops_core.settings import Settings, get_settings

_cache: dict[tuple, "AttackModel"] = {}
_cache_lock = threading.Lock()


# Set once a GPU failed under a run: the rest of this process's attack work stays on the CPU.
_gpu_lost_reason: str | None = None
# Messages with which PyTorch reports a GPU that fell off the bus, reset, or can no longer run work.
DEVICE_LOSS_MARKERS = ("CUDA error", "CUDA driver", "no CUDA-capable device", "Found no NVIDIA driver", "device-side assert",
                       "unspecified launch failure", "uncorrectable ECC error", "GPU is lost",
                       "CUDA out of memory", "CUBLAS_STATUS", "CUDNN_STATUS")


def attack_device() -> str:
    """CUDA when present (and not lost earlier in this process), else CPU; the same code runs on both."""
    import torch

    return "cuda:0" if _gpu_lost_reason is None and torch.cuda.is_available() else "cpu"


def job_resource() -> str:
    """The job-manager resource attack work takes: 'gpu' when it will run on CUDA, else 'cpu'."""
    return "gpu" if attack_device().startswith("cuda") else "cpu"


def is_device_loss(exc: BaseException) -> bool:
    """Whether an error says the GPU can no longer run this work."""
    return isinstance(exc, RuntimeError) and any(marker in str(exc) for marker in DEVICE_LOSS_MARKERS)


def mark_gpu_lost(exc: BaseException) -> None:
    """Send this process's later attack work to the CPU."""
    global _gpu_lost_reason
    _gpu_lost_reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _with_loss_hyperparameters(module):
    """ultralytics' loss reads box/cls/dfl gains from ``model.args`` as a namespace."""
    from ultralytics.cfg import get_cfg
    from ultralytics.utils import DEFAULT_CFG

    module.args = get_cfg(DEFAULT_CFG)
    module.criterion = None
    return module


@dataclass
class AttackModel:
    """A private float32 copy of a detector's network (gradients never touch the live model)."""

    entry: WeightsEntry
    module: object  # ultralytics DetectionModel, eval mode, frozen
    device: str
    names: dict[int, str]
    sha256: str
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def model_id(self) -> str:
        return self.entry.id

    @property
    def pedestrian_ids(self) -> list[int]:
        return [cid for cid, name in self.names.items() if self.entry.is_pedestrian(cid, name)]

    def flip_map(self) -> dict[int, int]:
        """Class swap for the flip attack: upright <-> fallen; with one pedestrian class, to a non-pedestrian class."""
        peds = self.pedestrian_ids
        if len(peds) >= 2:
            return {peds[0]: peds[1], peds[1]: peds[0]}
        others = [cid for cid in self.names if cid not in peds]
        return {peds[0]: others[0]} if others else {}

    def to_tensor(self, frames_rgb01: np.ndarray):
        import torch

        return torch.from_numpy(np.ascontiguousarray(frames_rgb01, dtype=np.float32)).to(self.device)

    def scores(self, x):
        """Per-anchor class probabilities (N, classes, anchors) and xywh boxes (N, 4, anchors) of an NCHW batch."""
        out = self.module(x)
        y = out[0] if isinstance(out, (tuple, list)) else out
        return y[:, 4:, :], y[:, :4, :]

    def predict(self, frames_rgb01: np.ndarray, conf: float = 0.25, iou: float = 0.7) -> list[FrameResult]:
        """Detections on NCHW RGB [0, 1] frames whose sides are multiples of 32 (no resize)."""
        import torch
        from ultralytics.utils.nms import non_max_suppression

        with self.lock, torch.no_grad():
            started = time.perf_counter()
            out = self.module(self.to_tensor(frames_rgb01))
            y = out[0] if isinstance(out, (tuple, list)) else out
            kept = non_max_suppression(y, conf_thres=conf, iou_thres=iou, nc=len(self.names))
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            latency_ms = (time.perf_counter() - started) * 1000 / len(frames_rgb01)
        return [self._frame_result(k.cpu().numpy(), latency_ms) for k in kept]

    def _frame_result(self, rows: np.ndarray, latency_ms: float) -> FrameResult:
        detections, counts = [], {}
        for x1, y1, x2, y2, score, cid in rows[:, :6].tolist():
            cid = int(cid)
            name = self.names.get(cid, str(cid))
            label = self.entry.label(cid, name)
            counts[label] = counts.get(label, 0) + 1
            detections.append(Detection(box=(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)), class_id=cid,
                                        class_name=name, label=label, confidence=round(float(score), 4),
                                        is_pedestrian=self.entry.is_pedestrian(cid, name)))
        return FrameResult(detections=tuple(detections), stats=None, latency_ms=round(latency_ms, 3),
                           device=self.device, model_id=self.model_id, model_sha256=self.sha256,
                           class_counts=counts)


class YoloLossAdapter:
    """Factory for the torch module ART wraps: training mode returns ``{"loss_total": ...}``."""

    @staticmethod
    def build(model: AttackModel, on_step: Callable[[], None] | None = None, extra_loss: Callable | None = None):
        """``extra_loss(preds)`` is added to the detection loss (e.g. the ghost term)."""
        import torch

        class _Adapter(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = model.module
                self.steps = 0

            def train(self, mode: bool = True):  # ART calls train() for losses; the network stays in eval
                self.training = mode
                return self

            def forward(self, x, targets=None):
                if self.training:
                    if on_step is not None:
                        on_step()
                    self.steps += 1
                    batch = {"img": x, "batch_idx": targets[:, 0], "cls": targets[:, 1:2], "bboxes": targets[:, 2:6]}
                    preds = self.inner(x)
                    loss = self.inner.loss(batch, preds)[0].sum()
                    if extra_loss is not None:
                        loss = loss + extra_loss(preds)
                    return {"loss_total": loss}
                return [_as_art_prediction(r) for r in model.predict(x.detach().cpu().numpy())]

        return _Adapter()


def _as_art_prediction(result: FrameResult) -> dict:
    import torch

    boxes = torch.tensor([d.box for d in result.detections], dtype=torch.float32).reshape(-1, 4)
    return {"boxes": boxes, "scores": torch.tensor([d.confidence for d in result.detections]),
            "labels": torch.tensor([d.class_id for d in result.detections], dtype=torch.int64)}


def art_detector(model: AttackModel, input_shape: Sequence[int], defences: list | None = None,
                 on_step: Callable[[], None] | None = None, extra_loss: Callable | None = None):
    """ART ``PyTorchYolo`` over the loss adapter; ``defences`` make it an adaptive (BPDA) target."""
    from art.estimators.object_detection import PyTorchYolo

    return PyTorchYolo(YoloLossAdapter.build(model, on_step, extra_loss), input_shape=tuple(input_shape), clip_values=(0.0, 1.0),
                       channels_first=True, attack_losses=("loss_total",), preprocessing_defences=defences,
                       device_type="gpu" if model.device.startswith("cuda") else "cpu")


def _freeze(module, device: str):
    module = module.float().to(device).eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return _with_loss_hyperparameters(module)


def load_attack_model(weights: str | None = None, settings: Settings | None = None) -> AttackModel:
    """The attack copy of a registered, hash-verified detector (cached per process and device)."""
    from secmlops_core.detector import load_detector

    settings = settings or get_settings()
    detector = load_detector(weights, settings)
    device = attack_device()
    key = (detector.model_id, detector.sha256, device)
    with _cache_lock:
        if key not in _cache:
            module = _freeze(copy.deepcopy(detector.torch_model), device)
            _cache[key] = AttackModel(entry=detector.entry, module=module, device=device,
                                      names=dict(detector.names), sha256=detector.sha256)
        return _cache[key]


def load_candidate_model(path: Path, sha256: str, base: AttackModel, candidate_id: str) -> AttackModel:
    """A fine-tuned candidate (poisoned or adversarially trained) checked against its recorded hash.

    The file is read only by the restricted unpickler (``torch.load(weights_only=True)`` under the
    checkpoint allow-list); a candidate that names anything else is refused.
    """
    from secmlops_core.detector.checkpoint_safety import detector_model, safe_load_checkpoint
    from secmlops_core.detector.weights import sha256_file
    from secmlops_core.errors import UserFacingError

    if not Path(path).is_file() or sha256_file(Path(path)) != sha256:
        raise UserFacingError(f"candidate {candidate_id}: file {path} is missing or does not match its recorded SHA-256")
    try:
        network = detector_model(safe_load_checkpoint(path), path)
    except UserFacingError as exc:
        raise UserFacingError(f"candidate {candidate_id}: {exc}") from None
    module = _freeze(network, base.device)
    entry = copy.copy(base.entry)
    object.__setattr__(entry, "id", candidate_id)
    return AttackModel(entry=entry, module=module, device=base.device, names=dict(base.names), sha256=sha256)
