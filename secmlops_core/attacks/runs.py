"""One attack-lab run, end to end: attack, measure, defend, store (replayable) and attach evidence."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from secmlops_core.attacks import frames as fr
from secmlops_core.attacks import model as attack_model
from secmlops_core.attacks.specs import ATTACKS
from secmlops_core.attacks.defenses import apply_defense, build_preprocessor, detection_instability
from secmlops_core.attacks.families import FrameAttack, attack_frame
from secmlops_core.attacks.model import load_attack_model
from secmlops_core.attacks.outcome import (
    RunPayload,
    compare,
    detection_records,
    report_progress,
    save_result_images,
    succeeded,
)
from secmlops_core.attacks.poisoning_run import run_poisoning
from secmlops_core.attacks.request import AttackRequest, CheckedRequest
from secmlops_core.errors import UserFacingError
from secmlops_core.jobs import JobCancelled, JobContext
from secmlops_core.settings import Settings, get_settings
from secmlops_core.store import Store, get_store
from secmlops_core.store.rows import row_mapper

__all__ = ["AttackRequest", "AttackRun", "CheckedRequest", "REPORT_PERMISSION", "check_report_permission",
           "execute_attack", "get_run", "list_runs", "submit_attack"]

# Reporting a run to operations opens an operations incident, so it takes what opening one takes.
REPORT_PERMISSION = "manage_incidents"


@dataclass(frozen=True)
class AttackRun:
    """A stored run (what the page replays and the CLI prints)."""

    run_id: str
    job_id: str | None
    attack: str
    params: dict
    image_ref: str
    model_id: str
    model_sha256: str
    device: str
    status: str
    durations: dict
    metrics: dict
    result: dict
    thumbnails: dict
    pipeline_id: str | None
    threat_id: str | None
    error: str | None
    created_at: object

    @property
    def reported_to_operations(self) -> bool:
        """Whether the run was launched with "Report this run to operations" (else it is demo evidence only)."""
        return bool(self.params.get("report_to_operations"))

    def thumbnail(self, name: str) -> bytes | None:
        """The bytes of one of the run's result images, or None."""
        path = self.thumbnails.get(name)
        try:
            return Path(path).read_bytes() if path else None
        except OSError:
            return None


_RUN_ROWS = row_mapper(AttackRun, json={"params": {}, "durations": {}, "metrics": {}, "result": {}, "thumbnails": {}})


def check_report_permission(request: CheckedRequest) -> None:
    """Raise PermissionDenied when the run asks to be reported to operations and the acting person may not
    open operations incidents; a demo run (the default) needs nothing more than running attacks."""
    if request.report_to_operations:
        from secmlops_core.access.policy import require

        require(REPORT_PERMISSION, request.pipeline_id)


def execute_attack(request: CheckedRequest, frame_bgr: np.ndarray | None = None, ctx: JobContext | None = None,
                   store: Store | None = None, settings: Settings | None = None) -> AttackRun:
    """Run a checked attack request, store it (even when it fails) and return the stored run."""
    check_report_permission(request)
    settings = settings or get_settings()
    store = store or get_store(settings.store_path)
    run_id = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    model = None
    try:
        frame_bgr = (None if request.spec.family == "poisoning" else
                     frame_bgr if frame_bgr is not None else fr.load_source(request.image_ref, settings))
        on_gpu = attack_model.attack_device().startswith("cuda")
        try:
            model = load_attack_model(request.weights, settings)
            payload = _attack_once(model, request, frame_bgr, ctx, store, settings, run_id)
        except Exception as exc:
            if not (on_gpu and attack_model.is_device_loss(exc)):
                raise
            # The GPU failed under the run: the same run again on the CPU, saying so.
            attack_model.mark_gpu_lost(exc)
            report_progress(ctx, 0.0, "the GPU failed; running again on the CPU")
            model = load_attack_model(request.weights, settings)
            payload = _attack_once(model, request, frame_bgr, ctx, store, settings, run_id)
            payload.durations["gpu_failed_after_s"] = round(time.perf_counter() - started, 3)
            payload.result["device_fallback"] = f"GPU failed ({str(exc).splitlines()[0][:200]}); ran on the CPU"
        payload.durations["total_s"] = round(time.perf_counter() - started, 3)
    except JobCancelled:
        _store_run(store, run_id, request, model, "cancelled", RunPayload(), "cancelled", ctx)
        raise
    except Exception as exc:
        _store_run(store, run_id, request, model, "failed", RunPayload(), str(exc)[:2000], ctx)
        raise
    run = _store_run(store, run_id, request, model, "succeeded", payload, None, ctx)
    _attach_evidence(store, run)
    return run


def _attack_once(model, request: CheckedRequest, frame_bgr, ctx, store, settings, run_id) -> RunPayload:
    if request.spec.family == "poisoning":
        return run_poisoning(model, request, ctx, store, settings, run_id)
    return run_on_frame(model, request, frame_bgr, ctx, settings, run_id)


def run_on_frame(model, request: CheckedRequest, frame_bgr, ctx, settings, run_id) -> RunPayload:
    """Attack one frame and measure it (defenses, instability); the result images go under ``settings.home``."""
    spec, params, defenses = request.spec, request.params, request.defenses
    frame = fr.to_attack_frame(frame_bgr, int(params["imgsz"]))
    x = fr.bgr_to_nchw(frame)
    report_progress(ctx, 0.02, "detecting on the clean frame")
    clean = model.predict(x)[0]
    if not clean.pedestrians and spec.goal in ("vanish", "flip", "hide", "misclassify"):
        raise UserFacingError("the detector finds no pedestrian in this frame, so there is nothing to make vanish "
                              "or flip; pick another image")
    attack_started = time.perf_counter()
    outcome = attack_frame(FrameAttack(model, x, spec, params, clean, ctx,
                                       share=0.5 if (request.adaptive and defenses) else 0.7))
    attack_s = time.perf_counter() - attack_started
    details = dict(outcome.details)
    adversarial = fr.quantise(outcome.adversarial)
    attacked = model.predict(adversarial)[0]
    comparison = compare(clean, attacked)
    defended = []
    for i, defense in enumerate(defenses):
        report_progress(ctx, 0.8 + 0.15 * i / max(1, len(defenses)), f"defense {defense}")
        defended.append(_defend(FrameAttack(model, x, spec, params, clean, ctx, share=0.0), adversarial, defense,
                                request.adaptive))
    report_progress(ctx, 0.96, "instability check and thumbnails")
    instability = {"clean": detection_instability(model, x, clean).__dict__,
                   "attacked": detection_instability(model, adversarial, attacked).__dict__}
    attacked_bgr = fr.nchw_to_bgr(adversarial)
    delta = adversarial - x
    metrics = {"clean_pedestrians": clean.pedestrians, "attacked_pedestrians": attacked.pedestrians,
               "recall": comparison["recall"], "class_kept": comparison["class_kept"],
               "new_pedestrians": comparison["new_pedestrians"],
               "linf": round(float(np.abs(delta).max()), 5), "l2_per_pixel": round(float(np.sqrt((delta ** 2).mean())), 5),
               "success": succeeded(spec.goal, clean, comparison, details), "goal": spec.goal,
               "setting": "non-adaptive (attack computed on the undefended model)"}
    patch_png = details.pop("patch_png", None)
    images = save_result_images(settings, run_id, frame, clean, attacked_bgr, attacked, patch_png)
    return RunPayload(
        metrics=metrics, images=images,
        durations={"attack_s": round(attack_s, 3), "clean_predict_ms": clean.latency_ms,
                   "attacked_predict_ms": attacked.latency_ms},
        result={"frame_size": list(frame.shape[:2]), "clean": detection_records(clean),
                "attacked": detection_records(attacked), "defended": defended, "instability": instability,
                "knowledge": spec.knowledge, **details})


def _defend(base: FrameAttack, adversarial: np.ndarray, defense: str, adaptive: bool) -> dict:
    """Non-adaptive (and, for gradient attacks, adaptive BPDA) outcome of one preprocessing defense."""
    model, x, clean = base.model, base.x, base.clean
    pre = build_preprocessor(defense)
    started = time.perf_counter()
    defended_clean = model.predict(apply_defense(pre, x))[0]
    overhead_ms = (time.perf_counter() - started) * 1000 - defended_clean.latency_ms
    defended_attacked = model.predict(apply_defense(pre, adversarial))[0]
    row = {"defense": defense, "overhead_ms": round(overhead_ms, 1),
           "clean": compare(clean, defended_clean),
           "non_adaptive": compare(clean, defended_attacked)}
    if adaptive and base.spec.family == "evasion":
        through = FrameAttack(model, x, base.spec, base.params, clean, base.ctx, [pre], share=0.0)
        adaptive_x = fr.quantise(attack_frame(through).adversarial)
        row["adaptive"] = compare(clean, model.predict(apply_defense(pre, adaptive_x))[0])
        row["adaptive_note"] = "BPDA: the attack ran through the defense, its gradient approximated where it has none"
    return row


def _store_run(store, run_id, request: CheckedRequest, model, status, payload: RunPayload, error, ctx) -> AttackRun:
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO attack_runs (run_id, job_id, attack, params, image_ref, model_id, model_sha256, device, status, "
            "durations, metrics, result, thumbnails, pipeline_id, threat_id, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, ctx.job_id if ctx else None, request.attack, json.dumps(request.recorded_params()),
             request.image_ref, model.model_id if model else (request.weights or ""), model.sha256 if model else "",
             model.device if model else "", status, json.dumps(payload.durations),
             json.dumps(payload.metrics), json.dumps(payload.result, default=str),
             json.dumps(payload.images), request.pipeline_id, request.threat_id, error])
    return get_run(store, run_id)


def record_run(store: Store, run_id: str, request: CheckedRequest, model, payload: RunPayload, ctx) -> AttackRun:
    """Store a succeeded run measured elsewhere (a Ray worker; ``model`` names its id, hash and device)
    and attach its evidence, as a run in this process is."""
    run = _store_run(store, run_id, request, model, "succeeded", payload, None, ctx)
    _attach_evidence(store, run)
    return run


def _attach_evidence(store: Store, run: AttackRun) -> None:
    """Every run becomes attack_run evidence (attached to its threat when launched from one), recorded
    under who launched it, with the attacked frame's instability score as the scalar monitoring reads;
    the alert evaluator opens operations incidents only for runs reported to operations."""
    from secmlops_core.access.policy import current_principal
    from secmlops_core.evidence import add_evidence

    m = run.metrics
    attacked_instability = (run.result.get("instability") or {}).get("attacked") or {}
    summary = (f"{ATTACKS[run.attack].title} on {run.image_ref} ({run.device}): pedestrians "
               f"{m.get('clean_pedestrians')} -> {m.get('attacked_pedestrians')}; "
               f"{'the attack succeeded' if m.get('success') else 'the attack did not reach its goal'}")
    add_evidence(store, "attack_run", f"attack_run:{run.run_id}", summary, pipeline_id=run.pipeline_id,
                 threat_id=run.threat_id, outcome="fail" if m.get("success") else "pass",
                 metrics={**{k: v for k, v in m.items() if not isinstance(v, (dict, list))},
                          "detection_instability": attacked_instability.get("score"),
                          "reported_to_operations": run.reported_to_operations},
                 created_by=current_principal().label)


def get_run(store: Store, run_id: str) -> AttackRun:
    """One stored run."""
    with store.connect() as conn:
        run = _RUN_ROWS.by_key(conn, "attack_runs", "run_id", run_id)
    if run is None:
        raise UserFacingError(f"no attack run {run_id!r}")
    return run


def list_runs(store: Store, limit: int = 20, status: str | None = None) -> list[AttackRun]:
    """Stored runs, newest first."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_RUN_ROWS.columns} FROM attack_runs {where} ORDER BY created_at DESC LIMIT ?",
                            [*params, int(limit)]).fetchall()
    return _RUN_ROWS.all(rows)


def submit_attack(request: AttackRequest | CheckedRequest, frame_bgr: np.ndarray | None = None, manager=None,
                  time_limit_s: float = 900.0) -> str:
    """Queue a run as a background job (the request is checked now, so bad input fails at once, and
    the checked request is what the job runs); returns the job id."""
    from secmlops_core.jobs import get_job_manager

    checked = request.check() if isinstance(request, AttackRequest) else request
    check_report_permission(checked)
    manager = manager or get_job_manager()

    def work(ctx: JobContext) -> dict:
        run = execute_attack(checked, frame_bgr, ctx, manager.store)
        return {"run_id": run.run_id, "metrics": run.metrics}

    return manager.submit(f"attack:{checked.attack}", work, title=f"{checked.spec.title} on {checked.image_ref}",
                          params={**checked.params, "image": checked.image_ref, "defenses": list(checked.defenses),
                                  "report_to_operations": checked.report_to_operations},
                          resource=attack_model.job_resource(), time_limit_s=time_limit_s,
                          ref=checked.threat_id, remote=remote_attack(checked, frame_bgr, manager))


def remote_attack(checked: CheckedRequest, frame_bgr: np.ndarray | None, manager):
    """The run as work for the manager's Ray cluster, or None when it has none (or the attack is poisoning)."""
    if manager.executor is None:
        return None
    from secmlops_core.attacks.remote import attack_work

    return attack_work(checked, frame_bgr, manager.store, get_settings(), manager.executor)
