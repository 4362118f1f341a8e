"""Adversarial patch (in the manner of Thys et al. 2019): train, ship, paste on every pedestrian.

The patch is an RGB image in [0, 1], pasted at the torso of each pedestrian box with a side
of ``scale`` x box width. Training minimises the mean of the highest pedestrian scores the
detector gives each patched frame (plus a total-variation term so it stays printable), over the sample
frames with brightness, noise and scale jitter. Training is seeded and deterministic for a
given device; shipped patches are listed with their SHA-256 in ``data/patches/patches.yaml``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import yaml

from secmlops_core.attacks.model import AttackModel
from secmlops_core.errors import UserFacingError

PATCH_DIR = Path(__file__).resolve().parents[2] / "data" / "patches"
PATCH_INDEX = PATCH_DIR / "patches.yaml"
TORSO = 0.45  # patch centre, as a share of the box height from its top
TOP_K = 20  # training lowers the mean of the highest pedestrian scores, so no box survives in pieces


@dataclass(frozen=True)
class ShippedPatch:
    """A precomputed patch listed in ``data/patches/patches.yaml``."""

    id: str
    file: Path
    sha256: str
    model_sha256: str
    meta: dict


def shipped_patches() -> list[ShippedPatch]:
    """Every patch listed in the index."""
    if not PATCH_INDEX.is_file():
        return []
    data = yaml.safe_load(PATCH_INDEX.read_text(encoding="utf-8")) or {}
    return [ShippedPatch(p["id"], PATCH_DIR / p["file"], p["sha256"], p["model_sha256"], p) for p in data.get("patches", [])]


def load_shipped_patch(model_sha256: str) -> tuple[np.ndarray, ShippedPatch]:
    """The shipped patch trained for a model (RGB float CHW), verified against its recorded SHA-256."""
    for patch in shipped_patches():
        if patch.model_sha256 == model_sha256:
            data = patch.file.read_bytes() if patch.file.is_file() else b""
            if hashlib.sha256(data).hexdigest() != patch.sha256:
                raise UserFacingError(f"shipped patch {patch.file} is missing or does not match its recorded SHA-256")
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            return bgr[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0, patch
    raise UserFacingError("no shipped patch for this model; train one (train_steps > 0)")


def patch_png(patch_chw: np.ndarray) -> bytes:
    """PNG bytes of a CHW RGB [0, 1] patch."""
    bgr = (np.clip(patch_chw, 0, 1).transpose(1, 2, 0)[:, :, ::-1] * 255).round().astype(np.uint8)
    ok, buffer = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


def placements(boxes: Sequence, height: int, width: int, scale: float) -> list[tuple[int, int, int]]:
    """(top, left, side) of the patch for each pedestrian box, clipped to the frame."""
    spots = []
    for x1, y1, x2, y2 in boxes:
        side = int(round(min(scale * (x2 - x1), height, width)))
        if side < 4:
            continue
        cx, cy = (x1 + x2) / 2, y1 + TORSO * (y2 - y1)
        top = int(round(min(max(cy - side / 2, 0), height - side)))
        left = int(round(min(max(cx - side / 2, 0), width - side)))
        spots.append((top, left, side))
    return spots


def apply_patch(x: np.ndarray, patch_chw: np.ndarray, boxes: Sequence, scale: float) -> np.ndarray:
    """A copy of the NCHW batch (first image) with the patch pasted on every box."""
    out = x.copy()
    hwc = np.ascontiguousarray(patch_chw.transpose(1, 2, 0))
    for top, left, side in placements(boxes, x.shape[2], x.shape[3], scale):
        resized = cv2.resize(hwc, (side, side), interpolation=cv2.INTER_LINEAR)
        out[0, :, top:top + side, left:left + side] = resized.transpose(2, 0, 1)
    return out


def _paste(torch, x, patch, boxes, scale):
    out = x.clone()
    for top, left, side in placements(boxes, x.shape[2], x.shape[3], scale):
        resized = torch.nn.functional.interpolate(patch[None], size=(side, side), mode="bilinear", align_corners=False)
        out[:, :, top:top + side, left:left + side] = resized
    return out


def _total_variation(patch):
    return (patch[:, 1:, :] - patch[:, :-1, :]).abs().mean() + (patch[:, :, 1:] - patch[:, :, :-1]).abs().mean()


def train_patch(model: AttackModel, frames: Sequence[tuple[np.ndarray, list]], steps: int, *, size: int = 64,
                scale: float = 0.6, seed: int = 0, lr: float = 0.03, tv_weight: float = 0.5,
                on_progress: Callable[[int, float], None] | None = None) -> tuple[np.ndarray, list[float]]:
    """Train a patch on ``frames`` = [(NCHW [0, 1] batch, pedestrian boxes)]; returns (CHW patch, loss history)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    patch = torch.rand(3, size, size, device=model.device, generator=None).requires_grad_(True)
    optimiser = torch.optim.Adam([patch], lr=lr)
    tensors = [(model.to_tensor(x), boxes) for x, boxes in frames]
    peds = model.pedestrian_ids
    history = []
    with model.lock:
        for step in range(steps):
            optimiser.zero_grad()
            total = 0.0
            for x, boxes in tensors:
                jitter = float(rng.uniform(0.8, 1.2))
                brightness = float(rng.uniform(0.85, 1.15))
                noisy = (patch * brightness + torch.randn_like(patch) * 0.02).clamp(0, 1)
                patched = _paste(torch, x, noisy, boxes, scale * jitter)
                scores, _ = model.scores(patched)
                top = scores[:, peds, :].amax(dim=1).topk(TOP_K, dim=1).values  # fragments count too
                loss = top.mean() + tv_weight * _total_variation(patch)
                (loss / len(tensors)).backward()
                total += float(loss.detach()) / len(tensors)
            optimiser.step()
            with torch.no_grad():
                patch.clamp_(0, 1)
            history.append(round(total, 5))
            if on_progress is not None:
                on_progress(step + 1, total)
    return patch.detach().cpu().numpy(), history
