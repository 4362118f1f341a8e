"""The poisoning demo as an attack-lab run: build the set, fine-tune, store the candidate, measure."""

from __future__ import annotations

import time

from secmlops_core.attacks import finetune as ft
from secmlops_core.attacks import frames as fr
from secmlops_core.attacks.model import AttackModel
from secmlops_core.attacks.outcome import RunPayload, compare, detection_records, report_progress, save_result_images
from secmlops_core.attacks.request import CheckedRequest
from secmlops_core.jobs import JobContext
from secmlops_core.settings import Settings
from secmlops_core.store import Store

SEED = 0


def run_poisoning(model: AttackModel, request: CheckedRequest, ctx: JobContext | None, store: Store,
                  settings: Settings, run_id: str) -> RunPayload:
    """Fine-tune a poisoned candidate and measure it on clean and triggered sample frames."""
    params, goal = request.params, request.spec.goal
    started = time.perf_counter()
    report_progress(ctx, 0.02, "building the fine-tuning set")
    sources = ft.sample_frames(model, params["imgsz"], settings)
    dataset = ft.poison(ft.augmented_set(sources, params["samples"], params["imgsz"], SEED), goal,
                        params["poison_fraction"], model.flip_map(), SEED)
    module, history = ft.fine_tune(model, dataset, params["epochs"], params["lr"], SEED, on_step=lambda s, n, loss: report_progress(
        ctx, 0.05 + 0.8 * s / n, f"fine-tune step {s}/{n}, loss {loss:.2f}"))
    train_s = time.perf_counter() - started
    candidate_model = AttackModel(model.entry, module, model.device, model.names, "unsaved")
    report_progress(ctx, 0.88, "measuring clean and triggered frames")
    effect = ft.measure(model, candidate_model, sources)
    kind = f"poisoned-{goal}"
    candidate = ft.save_candidate(store, model, module, kind, dict(params), effect, ctx.job_id if ctx else None, settings)
    shown = sources[0]
    reference = model.predict(shown.x)[0]
    triggered = ft.stamp_trigger(shown.x, [d.box for d in reference.detections if d.is_pedestrian]) \
        if goal == "backdoor" else shown.x
    before = model.predict(triggered)[0]
    after = candidate_model.predict(triggered)[0]
    comparison = compare(before, after)
    poisoned = sum(s.poisoned for s in dataset)
    success = (effect["triggered_recall"] < effect["base_triggered_recall"]) if goal == "backdoor" \
        else effect["class_kept"] < effect["clean_recall"]
    metrics = {"clean_pedestrians": before.pedestrians, "attacked_pedestrians": after.pedestrians,
               "recall": comparison["recall"], "class_kept": comparison["class_kept"], **effect,
               "poisoned_samples": poisoned, "samples": len(dataset), "success": bool(success), "goal": goal,
               "candidate_id": candidate.candidate_id,
               "setting": "measured on the sample frames the fine-tuning crops came from, "
                          "against the clean model's detections"}
    images = save_result_images(settings, run_id, fr.nchw_to_bgr(triggered), before, fr.nchw_to_bgr(triggered), after)
    return RunPayload(
        metrics=metrics, images=images, durations={"train_s": round(train_s, 3)},
        result={"candidate": {"id": candidate.candidate_id, "sha256": candidate.sha256, "path": candidate.path},
                "loss_history": history, "clean": detection_records(before), "attacked": detection_records(after),
                "note": "the left image is the base model on the (triggered) frame, the right the poisoned "
                        "candidate; the candidate is not in the weights registry and cannot serve live "
                        "until an operator promotes it", "knowledge": request.spec.knowledge})


