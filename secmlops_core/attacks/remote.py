"""Attack-lab work on a Ray worker, and what the app does with what comes back.

The app sends the frame and the weights by content (the registry entry and the file's
bytes, read from the hash-checked copy); the worker checks the bytes' SHA-256 against the
entry before anything unpickles them, loads them through the same registry, restricted-
unpickler and verified-copy path as the app (in a data directory of its own, never the
app's), attacks, and returns the run's payload with its result images as bytes. The app
writes the images into its data directory and the run into its store.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from secmlops_core.attacks.outcome import RunPayload
from secmlops_core.attacks.request import AttackRequest, CheckedRequest
from secmlops_core.detector.weights import WeightsEntry
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings

FRAME_FAMILIES = ("evasion", "patch", "classifier")


@dataclass(frozen=True)
class WeightsParcel:
    """A registered checkpoint sent by content: its registry entry and the file's bytes."""

    entry: WeightsEntry
    content: bytes


@dataclass(frozen=True)
class WorkerModel:
    """What a stored run records about the model a worker used."""

    model_id: str
    sha256: str
    device: str


@dataclass(frozen=True)
class WorkerRun:
    """A run measured on a worker: its payload, its result files (name -> (file name, bytes)) and model."""

    payload: RunPayload
    files: dict
    model: WorkerModel


def weights_parcel(weights: str | None, settings: Settings) -> WeightsParcel:
    """The parcel of registered weights, read from the app's hash-checked copy."""
    from secmlops_core.detector.weights import resolve_weights, verified_copy

    entry = resolve_weights(weights, settings)
    content = verified_copy(entry, settings).read_bytes()
    if hashlib.sha256(content).hexdigest() != entry.sha256:
        raise UserFacingError(f"weights {entry.id!r}: the verified copy changed while it was read; try again")
    return WeightsParcel(WeightsEntry(**{**asdict(entry), "resource": None, "builtin": False}), content)


def worker_settings(sha256: str) -> Settings:
    """The worker's own data directory for one checkpoint (its registry holds only that entry)."""
    home = Path(tempfile.gettempdir()) / f"secmlops-worker-{os.getuid()}" / sha256[:16]
    settings = Settings(home=home)
    settings.ensure_dirs()
    return settings


def load_received_model(parcel: WeightsParcel):
    """Verify a parcel's SHA-256, then load it as the attack model (refused when it does not match)."""
    import yaml

    from secmlops_core.attacks.model import load_attack_model
    from secmlops_core.files import atomic_write_bytes, atomic_write_text

    entry = parcel.entry
    digest = hashlib.sha256(parcel.content).hexdigest()
    if digest != entry.sha256:
        raise UserFacingError(f"refusing weights {entry.id!r} on this worker: the content received has SHA-256 "
                              f"{digest}, the registry pins {entry.sha256}")
    settings = worker_settings(digest)
    path = settings.home / "received-weights" / f"{digest}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, parcel.content)
    row = {"id": entry.id, "sha256": entry.sha256, "path": str(path), "class_labels": dict(entry.class_labels),
           "pedestrian_classes": list(entry.pedestrian_classes), "source": entry.source, "licence": entry.licence}
    atomic_write_text(settings.weights_registry_path, yaml.safe_dump({"weights": [row]}, sort_keys=False))
    return load_attack_model(str(path), settings), settings


def attack_on_worker(ctx, request: AttackRequest, frame_bgr: np.ndarray, parcel: WeightsParcel,
                     run_id: str) -> WorkerRun:
    """The Ray task of one frame attack: check, load verified weights, attack, return the images as bytes."""
    from secmlops_core.attacks.runs import run_on_frame

    checked = request.check()
    model, settings = load_received_model(parcel)
    folder = settings.home / "attacks" / "runs" / run_id
    try:
        payload = run_on_frame(model, checked, frame_bgr, ctx, settings, run_id)
        files = {name: (Path(value).name, Path(value).read_bytes())
                 for name, value in payload.images.items() if isinstance(value, str)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return WorkerRun(payload, files, WorkerModel(model.model_id, model.sha256, model.device))


def store_worker_run(ctx, value: WorkerRun, checked: CheckedRequest, run_id: str, store, settings) -> dict:
    """In the app: write a worker's result images into the data directory and the run into the store."""
    from secmlops_core.attacks.runs import record_run

    folder = settings.home / "attacks" / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    images = dict(value.payload.images)
    for name, (file_name, data) in value.files.items():
        if Path(file_name).name != file_name or file_name in ("", ".", ".."):
            raise UserFacingError(f"the worker returned a result file with an unsafe name: {file_name!r}")
        (folder / file_name).write_bytes(data)
        images[name] = str(folder / file_name)
    payload = RunPayload(metrics=value.payload.metrics, images=images, durations=value.payload.durations,
                         result=value.payload.result)
    run = record_run(store, run_id, checked, value.model, payload, ctx)
    return {"run_id": run.run_id, "metrics": run.metrics}


def attack_work(checked: CheckedRequest, frame_bgr: np.ndarray | None, store, settings, executor):
    """The RemoteWork of a frame attack (None for poisoning, which changes a model and stays in the app)."""
    import uuid

    from secmlops_core.attacks import frames as fr
    from secmlops_core.jobs.ray_executor import RemoteWork

    if checked.spec.family not in FRAME_FAMILIES:
        return None
    frame = frame_bgr if frame_bgr is not None else fr.load_source(checked.image_ref, settings)
    from secmlops_core.detector.weights import resolve_weights

    sha256 = resolve_weights(checked.weights, settings).sha256
    shared = executor.share(f"weights:{sha256}", lambda: weights_parcel(checked.weights, settings))
    request = AttackRequest(attack=checked.attack, image_ref=checked.image_ref, params=dict(checked.params),
                            preset=checked.preset, defenses=checked.defenses, adaptive=checked.adaptive,
                            weights=checked.weights, pipeline_id=checked.pipeline_id, threat_id=checked.threat_id,
                            report_to_operations=checked.report_to_operations)
    run_id = uuid.uuid4().hex[:12]
    return RemoteWork(compute=attack_on_worker, args=(request, frame, shared, run_id),
                      absorb=lambda ctx, value: store_worker_run(ctx, value, checked, run_id, store, settings))
