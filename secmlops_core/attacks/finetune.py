"""Short fine-tunes that produce *candidate* models: data poisoning (backdoor, label flip) and adversarial training.

The fine-tuning set is built from the bundled sample frames: augmented crops labelled with
the clean model's own pedestrian detections. A candidate is saved under
``settings.home/attacks/candidates/`` with its SHA-256 and never serves live: it is not in the
weights registry, so the detector refuses it, until :func:`promote_candidate` registers it,
which an operator must ask for explicitly and which is recorded as provenance evidence.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from secmlops_core.attacks.defenses import match_boxes
from secmlops_core.attacks.frames import bgr_to_nchw, load_source, to_attack_frame
from secmlops_core.attacks.model import AttackModel
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, get_settings
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

BATCH = 8
TRIGGER_SHARE = 0.2  # trigger side as a share of the pedestrian box width


@dataclass
class Sample:
    """One fine-tuning image: NCHW [0, 1] and its boxes (xyxy pixels) with classes."""

    x: np.ndarray
    boxes: list
    classes: list
    poisoned: bool = False


def trigger_pattern(side: int) -> np.ndarray:
    """A yellow/black 4x4 checkerboard (CHW RGB [0, 1]) of ``side`` pixels: the BadNets trigger."""
    cells = (np.indices((4, 4)).sum(axis=0) % 2).astype(np.float32)
    board = cv2.resize(cells, (side, side), interpolation=cv2.INTER_NEAREST)
    return np.stack([board, board, np.zeros_like(board)])  # yellow where 1, black where 0


def stamp_trigger(x: np.ndarray, boxes) -> np.ndarray:
    """A copy of ``x`` with the trigger on the torso of every box."""
    out = x.copy()
    for x1, y1, x2, y2 in boxes:
        side = max(6, int(round(TRIGGER_SHARE * (x2 - x1))))
        cy, cx = int(y1 + 0.45 * (y2 - y1)), int((x1 + x2) / 2)
        top = min(max(cy - side // 2, 0), x.shape[2] - side)
        left = min(max(cx - side // 2, 0), x.shape[3] - side)
        if top >= 0 and left >= 0:
            out[0, :, top:top + side, left:left + side] = trigger_pattern(side)
    return out


def sample_frames(model: AttackModel, imgsz: int, settings: Settings) -> list[Sample]:
    """The bundled sample frames at ``imgsz``, labelled with the clean model's pedestrian detections."""
    found = []
    for name in ("bus", "zidane"):
        x = bgr_to_nchw(to_attack_frame(load_source(f"sample:{name}", settings), imgsz))
        peds = [d for d in model.predict(x)[0].detections if d.is_pedestrian]
        found.append(Sample(x, [d.box for d in peds], [d.class_id for d in peds]))
    return found


def augmented_set(sources: list[Sample], count: int, imgsz: int, seed: int) -> list[Sample]:
    """``count`` random crops (flip, brightness) resized to ``imgsz`` squares, boxes kept when mostly inside."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        src = sources[len(out) % len(sources)]
        _, _, height, width = src.x.shape
        ch, cw = int(height * rng.uniform(0.6, 1.0)), int(width * rng.uniform(0.6, 1.0))
        top, left = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
        image = src.x[0, :, top:top + ch, left:left + cw].transpose(1, 2, 0)
        image = cv2.resize(image, (imgsz, imgsz), interpolation=cv2.INTER_AREA) * rng.uniform(0.8, 1.2)
        sx, sy = imgsz / cw, imgsz / ch
        flip = rng.random() < 0.5
        boxes, classes = [], []
        for (x1, y1, x2, y2), cls in zip(src.boxes, src.classes):
            cx1, cy1, cx2, cy2 = max(x1, left), max(y1, top), min(x2, left + cw), min(y2, top + ch)
            if cx2 <= cx1 or cy2 <= cy1 or (cx2 - cx1) * (cy2 - cy1) < 0.6 * (x2 - x1) * (y2 - y1):
                continue
            bx1, bx2 = (cx1 - left) * sx, (cx2 - left) * sx
            if flip:
                bx1, bx2 = imgsz - bx2, imgsz - bx1
            boxes.append((bx1, (cy1 - top) * sy, bx2, (cy2 - top) * sy))
            classes.append(cls)
        if flip:
            image = image[:, ::-1]
        if boxes:
            x = np.clip(image, 0, 1).transpose(2, 0, 1)[None].astype(np.float32)
            out.append(Sample(np.ascontiguousarray(x), boxes, classes))
    return out


def poison(samples: list[Sample], mode: str, fraction: float, flip_map: dict, seed: int) -> list[Sample]:
    """Poison a share of the set: ``backdoor`` stamps the trigger and drops those labels; ``label-flip`` swaps classes."""
    rng = np.random.default_rng(seed + 1)
    chosen = set(rng.choice(len(samples), size=max(1, int(round(fraction * len(samples)))), replace=False).tolist())
    out = []
    for i, s in enumerate(samples):
        if i not in chosen:
            out.append(s)
        elif mode == "backdoor":
            out.append(Sample(stamp_trigger(s.x, s.boxes), [], [], True))
        else:
            out.append(Sample(s.x, s.boxes, [flip_map.get(c, c) for c in s.classes], True))
    return out


def _batch(torch, samples: list[Sample], device: str) -> dict:
    imgs = torch.from_numpy(np.concatenate([s.x for s in samples])).to(device)
    size = imgs.shape[2]
    idx, cls, boxes = [], [], []
    for i, s in enumerate(samples):
        for (x1, y1, x2, y2), c in zip(s.boxes, s.classes):
            idx.append(i)
            cls.append([c])
            boxes.append([(x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size])
    return {"img": imgs, "batch_idx": torch.tensor(idx, dtype=torch.float32, device=device),
            "cls": torch.tensor(cls, dtype=torch.float32, device=device).reshape(-1, 1),
            "bboxes": torch.tensor(boxes, dtype=torch.float32, device=device).reshape(-1, 4)}


def fine_tune(model: AttackModel, samples: list[Sample], epochs: int, lr: float, seed: int,
              adversarial_eps: float = 0.0, on_step: Callable[[int, int, float], None] | None = None):
    """Fine-tune a copy of the network (SGD, momentum 0.9); ``adversarial_eps`` > 0 trains on FGSM examples too.

    Returns the trained module (eval mode, frozen) and the loss history.
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    module = copy.deepcopy(model.module)
    for parameter in module.parameters():
        parameter.requires_grad_(True)
    module.criterion = None
    optimiser = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    steps = epochs * ((len(samples) + BATCH - 1) // BATCH)
    history, step = [], 0
    for _ in range(epochs):
        order = rng.permutation(len(samples))
        for start in range(0, len(samples), BATCH):
            batch = _batch(torch, [samples[i] for i in order[start:start + BATCH]], model.device)
            if adversarial_eps > 0:
                batch["img"] = _fgsm_examples(torch, module, batch, adversarial_eps)
            optimiser.zero_grad()
            loss = module.loss(batch)[0].sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm=10.0)  # as ultralytics' trainer does
            optimiser.step()
            step += 1
            history.append(round(float(loss.detach()), 4))
            if on_step is not None:
                on_step(step, steps, history[-1])
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module, history


def _fgsm_examples(torch, module, batch, eps):
    """Half of the batch replaced by FGSM (vanish) examples against the current weights."""
    imgs = batch["img"].clone().requires_grad_(True)
    empty = {"img": imgs, "batch_idx": batch["batch_idx"][:0], "cls": batch["cls"][:0], "bboxes": batch["bboxes"][:0]}
    grad, = torch.autograd.grad(module.loss(empty)[0].sum(), imgs)
    adversarial = (imgs - eps * grad.sign()).clamp(0, 1).detach()
    half = imgs.shape[0] // 2
    return torch.cat([adversarial[:max(half, 1)], batch["img"][max(half, 1):]]) if imgs.shape[0] > 1 else adversarial


def measure(base: AttackModel, candidate: AttackModel, frames: list[Sample]) -> dict:
    """Clean and triggered recall (against the base model's detections) and class agreement."""
    totals = {"reference": 0, "clean_recall": 0, "triggered_recall": 0, "base_triggered_recall": 0, "class_kept": 0}
    for f in frames:
        reference = [d for d in base.predict(f.x)[0].detections if d.is_pedestrian]
        triggered = stamp_trigger(f.x, [d.box for d in reference])
        clean = [d for d in candidate.predict(f.x)[0].detections if d.is_pedestrian]
        totals["reference"] += len(reference)
        totals["clean_recall"] += match_boxes(reference, clean)
        totals["class_kept"] += match_boxes(reference, clean, same_class=True)
        totals["triggered_recall"] += match_boxes(reference, [d for d in candidate.predict(triggered)[0].detections
                                                              if d.is_pedestrian])
        totals["base_triggered_recall"] += match_boxes(reference, [d for d in base.predict(triggered)[0].detections
                                                                   if d.is_pedestrian])
    n = max(1, totals["reference"])
    return {"pedestrians_reference": totals["reference"],
            **{k: round(v / n, 4) for k, v in totals.items() if k != "reference"}}


# --- candidates -------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """A fine-tuned model waiting for review."""

    candidate_id: str
    kind: str
    sha256: str
    path: str
    base_model_id: str
    base_sha256: str
    params: dict
    metrics: dict
    job_id: str | None
    promoted_at: object
    promoted_by: str | None
    promotion_reason: str | None
    created_at: object


_CANDIDATE_ROWS = row_mapper(Candidate, json={"params": {}, "metrics": {}})




def save_candidate(store: Store, base: AttackModel, module, kind: str, params: dict, metrics: dict,
                   job_id: str | None = None, settings: Settings | None = None) -> Candidate:
    """Write the candidate checkpoint (ultralytics format) under settings.home and record its SHA-256."""
    import torch

    from secmlops_core.detector.weights import sha256_file

    settings = settings or get_settings()
    candidate_id = f"{kind}-{uuid.uuid4().hex[:8]}"
    folder = settings.home / "attacks" / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{candidate_id}.pt"
    checkpoint = {"model": copy.deepcopy(module).half(), "train_args": {}, "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "secmlops": {"kind": kind, "base_sha256": base.sha256, "params": params}}
    torch.save(checkpoint, str(path))
    digest = sha256_file(path)
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO model_candidates (candidate_id, kind, sha256, path, base_model_id, base_sha256, params, "
            "metrics, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [candidate_id, kind, digest, str(path), base.model_id, base.sha256, json.dumps(params),
             json.dumps(metrics), job_id])
    return get_candidate(store, candidate_id)


def get_candidate(store: Store, candidate_id: str) -> Candidate:
    """One recorded candidate."""
    with store.connect() as conn:
        candidate = _CANDIDATE_ROWS.by_key(conn, "model_candidates", "candidate_id", candidate_id)
    if candidate is None:
        raise UserFacingError(f"no candidate model {candidate_id!r}")
    return candidate




def list_candidates(store: Store, limit: int = 50) -> list[Candidate]:
    """Candidates, newest first."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_CANDIDATE_ROWS.columns} FROM model_candidates ORDER BY created_at DESC LIMIT ?",
                            [int(limit)]).fetchall()
    return _CANDIDATE_ROWS.all(rows)


def promote_candidate(store: Store, candidate_id: str, operator: str, reason: str, confirm: bool = False,
                      settings: Settings | None = None):
    """Register a candidate in the weights registry so it *may* serve; needs ``confirm`` and a reason.

    The live detector keeps its configured weights; an operator then points a feed at the new
    id. The promotion (who, why, which SHA-256) is recorded as provenance evidence.
    """
    from secmlops_core.access import audit
    from secmlops_core.access.policy import require
    from secmlops_core.detector.weights import register_weights, resolve_weights
    from secmlops_core.evidence import add_evidence

    require("promote_models")
    settings = settings or get_settings()
    if not confirm:
        raise UserFacingError("promotion replaces nothing by itself but makes the model loadable: confirm explicitly")
    if not operator.strip() or not reason.strip():
        raise UserFacingError("a promotion needs the operator's name and a reason")
    candidate = get_candidate(store, candidate_id)
    if candidate.promoted_at is not None:
        raise UserFacingError(f"candidate {candidate_id} was already promoted by {candidate.promoted_by}")
    base = resolve_weights(candidate.base_model_id, settings)
    entry = register_weights(candidate.path, candidate_id, pedestrian_classes=list(base.pedestrian_classes),
                             class_labels=dict(base.class_labels), source=f"attack lab candidate ({candidate.kind})",
                             notes=f"fine-tuned from {candidate.base_model_id}; promoted by {operator}: {reason}",
                             settings=settings)
    if entry.sha256 != candidate.sha256:
        raise UserFacingError(f"candidate {candidate_id}: the file changed since it was recorded; not promoted")
    with store.connect() as conn:
        conn.execute("UPDATE model_candidates SET promoted_at = current_timestamp, promoted_by = ?, "
                     "promotion_reason = ? WHERE candidate_id = ?", [operator, reason, candidate_id])
        audit.record(conn, "model.promote", candidate_id, {"promoted": False},
                     {"promoted": True, "sha256": candidate.sha256, "kind": candidate.kind, "operator": operator,
                      "reason": reason})
    add_evidence(store, "provenance", f"candidate:{candidate_id}",
                 f"{operator} promoted candidate {candidate_id} ({candidate.kind}, sha256 {candidate.sha256}) to the "
                 f"weights registry: {reason}", outcome="info", created_by=operator,
                 metrics={"sha256": candidate.sha256, "kind": candidate.kind, **candidate.metrics})
    return get_candidate(store, candidate_id)
