"""The training-time defense: adversarial fine-tuning of the detector, measured against its base.

Half of every fine-tuning batch is replaced by FGSM-vanish examples computed against the current
weights (``finetune.fine_tune(adversarial_eps=...)``). The result is a *candidate* model, never
live until promoted. What it buys (robust recall under FGSM computed white-box against each model
itself) and what it costs (clean recall, per-frame latency, training time) are measured on the
sample frames against the base model's clean detections, and the candidate can be a row of the
trade-off table (``evaluation.evaluate(hardened=[...])``).
"""

from __future__ import annotations

import time

import numpy as np

from secmlops_core.attacks import finetune as ft
from secmlops_core.attacks.specs import ATTACKS, check_hardening_params, check_params
from secmlops_core.attacks.defenses import match_boxes
from secmlops_core.attacks.families import FrameAttack, attack_frame
from secmlops_core.attacks.frames import quantise
from secmlops_core.attacks.model import AttackModel, job_resource, load_attack_model
from secmlops_core.attacks.outcome import report_progress
from secmlops_core.settings import Settings, get_settings
from secmlops_core.store import Store, get_store

KIND = "adv-trained"
JOB_KIND = "finetune:adversarial"
SEED = 0


def robustness(model: AttackModel, frames: list[ft.Sample], references: list[list], eps: float) -> dict:
    """Clean and FGSM-attacked recall of ``model`` against reference pedestrians, and its latency."""
    fgsm = ATTACKS["fgsm"]
    params = {**check_params("fgsm", {"eps": eps}), "imgsz": frames[0].x.shape[-1]}
    found = {"clean": 0, "attacked": 0}
    latency = []
    for sample, reference in zip(frames, references):
        started = time.perf_counter()
        clean = model.predict(sample.x)[0]
        latency.append((time.perf_counter() - started) * 1000)
        adversarial = quantise(attack_frame(FrameAttack(model, sample.x, fgsm, params, clean)).adversarial)
        attacked = model.predict(adversarial)[0]
        found["clean"] += match_boxes(reference, [d for d in clean.detections if d.is_pedestrian])
        found["attacked"] += match_boxes(reference, [d for d in attacked.detections if d.is_pedestrian])
    total = max(1, sum(len(r) for r in references))
    return {"clean_recall": round(found["clean"] / total, 4), "robust_recall_fgsm": round(found["attacked"] / total, 4),
            "latency_ms": round(float(np.mean(latency)), 1)}


def adversarial_training(params: dict, ctx=None, store: Store | None = None, weights: str | None = None,
                         settings: Settings | None = None) -> dict:
    """Fine-tune an adversarially trained candidate and measure it against the base; returns what was stored."""
    settings = settings or get_settings()
    store = store or get_store(settings.store_path)
    params = check_hardening_params(params)
    base = load_attack_model(weights, settings)
    report_progress(ctx, 0.02, "building the fine-tuning set")
    sources = ft.sample_frames(base, params["imgsz"], settings)
    dataset = ft.augmented_set(sources, params["samples"], params["imgsz"], SEED)
    started = time.perf_counter()
    module, history = ft.fine_tune(
        base, dataset, params["epochs"], params["lr"], SEED, adversarial_eps=params["eps"],
        on_step=lambda s, n, loss: report_progress(ctx, 0.05 + 0.75 * s / n, f"adversarial fine-tune step {s}/{n}, "
                                                                         f"loss {loss:.2f}"))
    train_s = round(time.perf_counter() - started, 2)
    candidate = AttackModel(base.entry, module, base.device, base.names, "unsaved")
    report_progress(ctx, 0.85, "measuring clean and attacked recall, base and candidate")
    references = [[d for d in base.predict(s.x)[0].detections if d.is_pedestrian] for s in sources]
    before = robustness(base, sources, references, params["eps"])
    after = robustness(candidate, sources, references, params["eps"])
    metrics = {"clean_recall": after["clean_recall"], "robust_recall_fgsm": after["robust_recall_fgsm"],
               "base_clean_recall": before["clean_recall"], "base_robust_recall_fgsm": before["robust_recall_fgsm"],
               "latency_ms": after["latency_ms"], "base_latency_ms": before["latency_ms"], "train_s": train_s,
               "device": base.device,
               "setting": "sample frames against the base model's clean detections; FGSM computed white-box "
                          "against each model itself"}
    saved = ft.save_candidate(store, base, module, KIND, params, metrics, ctx.job_id if ctx else None, settings)
    return {"candidate_id": saved.candidate_id, "sha256": saved.sha256, "metrics": metrics, "loss_history": history}


def submit_adversarial_training(params: dict, manager=None, weights: str | None = None,
                                time_limit_s: float = 3600.0) -> str:
    """Queue the fine-tune as a background job (parameters checked now); returns the job id."""
    from secmlops_core.jobs import get_job_manager

    checked = check_hardening_params(params)
    manager = manager or get_job_manager()
    return manager.submit(JOB_KIND, lambda ctx: adversarial_training(checked, ctx, manager.store, weights),
                          title=f"Adversarial training (FGSM eps {checked['eps']:.3f}, {checked['epochs']} epoch(s))",
                          params=checked, resource=job_resource(),
                          time_limit_s=time_limit_s)
