"""One attack-lab run, end to end: attack, measure, defend, store (replayable) and attach evidence."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from secmlops_core.attacks import frames as fr
from secmlops_core.attacks.catalog import ATTACKS, check_defenses, check_params, get_attack
from secmlops_core.attacks.defenses import apply_defense, build_preprocessor, detection_instability, match_boxes
from secmlops_core.attacks import model as attack_model
from secmlops_core.attacks.model import AttackModel, load_attack_model
from secmlops_core.detector.results import FrameResult
from secmlops_core.errors import UserFacingError
from secmlops_core.jobs import JobCancelled, JobContext
from secmlops_core.settings import Settings, get_settings
from secmlops_core.store import Store, get_store

THUMB_WIDTH = 480
_RUN_COLUMNS = ("run_id, job_id, attack, params, image_ref, model_id, model_sha256, device, status, durations, "
                "metrics, result, thumbnails, pipeline_id, threat_id, error, created_at")


@dataclass(frozen=True)
class AttackRequest:
    """What to run: attack id, raw parameters (checked later), image, defenses and links."""

    attack: str
    image_ref: str = "sample:bus"
    params: dict = field(default_factory=dict)
    preset: str | None = None
    defenses: tuple = ()
    adaptive: bool = False
    weights: str | None = None
    pipeline_id: str | None = None
    threat_id: str | None = None

    def checked(self) -> tuple[dict, list[str]]:
        """(checked parameters, checked defense ids); raises on any invalid value."""
        return check_params(self.attack, self.params, self.preset), check_defenses(self.defenses)


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

    def thumbnail(self, name: str) -> bytes | None:
        path = self.thumbnails.get(name)
        try:
            return Path(path).read_bytes() if path else None
        except OSError:
            return None


def _pedestrians(result: FrameResult) -> list:
    return [d for d in result.detections if d.is_pedestrian]


def compare(reference: FrameResult, found: FrameResult) -> dict:
    """Counts, recall (class-agnostic and class-kept) and new pedestrians of ``found`` vs ``reference``."""
    ref, got = _pedestrians(reference), _pedestrians(found)
    matched = match_boxes(ref, got)
    return {"pedestrians": len(got), "recall": round(matched / len(ref), 4) if ref else None,
            "class_kept": round(match_boxes(ref, got, same_class=True) / len(ref), 4) if ref else None,
            "new_pedestrians": len(got) - matched}


def _succeeded(goal: str, clean: FrameResult, comparison: dict, extra: dict) -> bool:
    if goal == "vanish":
        return comparison["pedestrians"] < clean.pedestrians
    if goal == "ghost":
        return comparison["pedestrians"] > clean.pedestrians
    if goal == "flip":
        return (comparison["class_kept"] or 0) < (comparison["recall"] or 0) or comparison["recall"] == 0
    if goal == "hide":  # the patched pedestrians are no longer found where they were
        return (comparison["recall"] or 0) < 1
    if goal == "misclassify":
        return any(c["flipped"] for c in extra.get("crops", []))
    return False


def _detections(result: FrameResult) -> list[dict]:
    return [{"label": d.label, "class_id": d.class_id, "confidence": d.confidence, "box": list(d.box),
             "pedestrian": d.is_pedestrian} for d in result.detections]


def _progress(ctx: JobContext | None, fraction: float, message: str) -> None:
    if ctx is not None:
        ctx.progress(fraction, message)


def _make_adversarial(model: AttackModel, x: np.ndarray, spec, params: dict, clean: FrameResult,
                      ctx: JobContext | None, defences=None, share: float = 0.7) -> tuple[np.ndarray, dict]:
    """The attacked batch for evasion, patch and classifier attacks, with attack-specific details."""
    from secmlops_core.attacks.classifier_view import run_classifier_attack
    from secmlops_core.attacks.evasion import run_evasion
    from secmlops_core.attacks.patch import apply_patch, load_shipped_patch, patch_png, train_patch

    peds = [d.box for d in _pedestrians(clean)]
    if spec.family == "evasion":
        total = 1 if spec.id == "fgsm" else params["steps"]
        counter = {"n": 0}

        def on_step():
            counter["n"] += 1
            _progress(ctx, 0.1 + share * min(counter["n"], total) / total, f"step {counter['n']}/{total}")

        return run_evasion(model, x, spec.id, spec.goal, params, clean, defences, on_step), {}
    if spec.family == "patch":
        if params["train_steps"] > 0:
            patch, history = train_patch(model, [(x, peds)], params["train_steps"], scale=params["scale"],
                                         on_progress=lambda s, loss: _progress(
                                             ctx, 0.1 + share * s / params["train_steps"], f"patch step {s}, loss {loss:.3f}"))
            info = {"patch": "trained on this frame", "loss_history": history[-20:]}
        else:
            patch, shipped = load_shipped_patch(model.sha256)
            info = {"patch": f"shipped {shipped.id} (sha256 {shipped.sha256[:12]}…)"}
        info["patch_png"] = patch_png(patch)
        return apply_patch(x, patch, peds, params["scale"]), info
    if spec.family == "classifier":
        adversarial, crops, queries = run_classifier_attack(
            model, x, spec.id, params, clean, on_call=(ctx.check if ctx else None),
            on_crop=lambda i, n: _progress(ctx, 0.1 + share * i / n, f"crop {i}/{n}"))
        return adversarial, {"crops": [c.__dict__ for c in crops], "queries": queries}
    raise UserFacingError(f"{spec.id} is a {spec.family} attack and does not attack a single frame")


def execute_attack(request: AttackRequest, frame_bgr: np.ndarray | None = None, ctx: JobContext | None = None,
                   store: Store | None = None, settings: Settings | None = None) -> AttackRun:
    """Run an attack request, store it (even when it fails) and return the stored run."""
    settings = settings or get_settings()
    store = store or get_store(settings.store_path)
    params, defenses = request.checked()
    run_id = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    model = None
    try:
        frame_bgr = (None if get_attack(request.attack).family == "poisoning" else
                     frame_bgr if frame_bgr is not None else fr.load_source(request.image_ref, settings))
        on_gpu = attack_model.attack_device().startswith("cuda")
        try:
            model = load_attack_model(request.weights, settings)
            payload = _attack_once(model, request, params, defenses, frame_bgr, ctx, store, settings, run_id)
        except Exception as exc:
            if not (on_gpu and attack_model.is_device_loss(exc)):
                raise
            # The GPU failed under the run: the same run again on the CPU, saying so.
            attack_model.mark_gpu_lost(exc)
            _progress(ctx, 0.0, "the GPU failed; running again on the CPU")
            model = load_attack_model(request.weights, settings)
            payload = _attack_once(model, request, params, defenses, frame_bgr, ctx, store, settings, run_id)
            payload["durations"]["gpu_failed_after_s"] = round(time.perf_counter() - started, 3)
            payload.setdefault("result", {})["device_fallback"] = f"GPU failed ({str(exc).splitlines()[0][:200]}); ran on the CPU"
        payload["durations"]["total_s"] = round(time.perf_counter() - started, 3)
        status, error = "succeeded", None
    except JobCancelled:
        payload, status, error = {}, "cancelled", "cancelled"
        _store_run(store, run_id, request, params, model, status, {}, error, ctx)
        raise
    except Exception as exc:
        _store_run(store, run_id, request, params, model, "failed", {}, str(exc)[:2000], ctx)
        raise
    run = _store_run(store, run_id, request, params, model, status, payload, error, ctx)
    _attach_evidence(store, run)
    return run


def _attack_once(model, request, params, defenses, frame_bgr, ctx, store, settings, run_id) -> dict:
    if get_attack(request.attack).family == "poisoning":
        from secmlops_core.attacks.poisoning_run import run_poisoning

        return run_poisoning(model, request, params, ctx, store, settings, run_id)
    return _run_on_frame(model, request, params, defenses, frame_bgr, ctx, settings, run_id)


def _run_on_frame(model, request, params, defenses, frame_bgr, ctx, settings, run_id) -> dict:
    spec = ATTACKS[request.attack]
    frame = fr.to_attack_frame(frame_bgr, params["imgsz"])
    x = fr.bgr_to_nchw(frame)
    _progress(ctx, 0.02, "detecting on the clean frame")
    clean = model.predict(x)[0]
    if not clean.pedestrians and spec.goal in ("vanish", "flip", "hide", "misclassify"):
        raise UserFacingError("the detector finds no pedestrian in this frame, so there is nothing to make vanish "
                              "or flip; pick another image")
    attack_started = time.perf_counter()
    adversarial, extra = _make_adversarial(model, x, spec, params, clean, ctx,
                                           share=0.5 if (request.adaptive and defenses) else 0.7)
    attack_s = time.perf_counter() - attack_started
    adversarial = fr.quantise(adversarial)
    attacked = model.predict(adversarial)[0]
    comparison = compare(clean, attacked)
    defended = []
    for i, defense in enumerate(defenses):
        _progress(ctx, 0.8 + 0.15 * i / max(1, len(defenses)), f"defense {defense}")
        defended.append(_defend(model, spec, params, clean, x, adversarial, defense, request.adaptive, ctx))
    _progress(ctx, 0.96, "instability check and thumbnails")
    instability = {"clean": detection_instability(model, x, clean).__dict__,
                   "attacked": detection_instability(model, adversarial, attacked).__dict__}
    attacked_bgr = fr.nchw_to_bgr(adversarial)
    delta = adversarial - x
    metrics = {"clean_pedestrians": clean.pedestrians, "attacked_pedestrians": attacked.pedestrians,
               "recall": comparison["recall"], "class_kept": comparison["class_kept"],
               "new_pedestrians": comparison["new_pedestrians"],
               "linf": round(float(np.abs(delta).max()), 5), "l2_per_pixel": round(float(np.sqrt((delta ** 2).mean())), 5),
               "success": _succeeded(spec.goal, clean, comparison, extra), "goal": spec.goal,
               "setting": "non-adaptive (attack computed on the undefended model)"}
    patch_png = extra.pop("patch_png", None)
    thumbnails = _save_thumbnails(settings, run_id, frame, clean, attacked_bgr, attacked, patch_png)
    return {"metrics": metrics, "thumbnails": thumbnails,
            "durations": {"attack_s": round(attack_s, 3), "clean_predict_ms": clean.latency_ms,
                          "attacked_predict_ms": attacked.latency_ms},
            "result": {"frame_size": list(frame.shape[:2]), "clean": _detections(clean), "attacked": _detections(attacked),
                       "defended": defended, "instability": instability, "knowledge": spec.knowledge, **extra}}


def _defend(model, spec, params, clean, x, adversarial, defense, adaptive, ctx) -> dict:
    """Non-adaptive (and, for gradient attacks, adaptive BPDA) outcome of one preprocessing defense."""
    pre = build_preprocessor(defense)
    started = time.perf_counter()
    defended_clean = model.predict(apply_defense(pre, x))[0]
    overhead_ms = (time.perf_counter() - started) * 1000 - defended_clean.latency_ms
    defended_attacked = model.predict(apply_defense(pre, adversarial))[0]
    row = {"defense": defense, "overhead_ms": round(overhead_ms, 1),
           "clean": compare(clean, defended_clean),
           "non_adaptive": compare(clean, defended_attacked)}
    if adaptive and spec.family == "evasion":
        adaptive_x = fr.quantise(_make_adversarial(model, x, spec, params, clean, ctx, [pre], share=0.0)[0])
        row["adaptive"] = compare(clean, model.predict(apply_defense(pre, adaptive_x))[0])
        row["adaptive_note"] = "BPDA: the attack ran through the defense, its gradient approximated where it has none"
    return row


def _save_thumbnails(settings, run_id, frame, clean, attacked_bgr, attacked, patch_png=None) -> dict:
    from secmlops_core.detector.annotate import annotate, encode_jpeg

    folder = settings.home / "attacks" / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    perturbation, gain = fr.perturbation_image(frame, attacked_bgr)
    images = {"clean": annotate(frame, clean, THUMB_WIDTH), "attacked": annotate(attacked_bgr, attacked, THUMB_WIDTH),
              "perturbation": annotate(perturbation, FrameResult((), None, 0, "", "", ""), THUMB_WIDTH)}
    paths = {}
    for name, image in images.items():
        path = folder / f"{name}.jpg"
        path.write_bytes(encode_jpeg(image, 85))
        paths[name] = str(path)
    adversarial_png = folder / "attacked.png"  # lossless, for -o and re-evaluation
    import cv2

    cv2.imwrite(str(adversarial_png), attacked_bgr)
    paths["attacked_png"] = str(adversarial_png)
    if patch_png:
        (folder / "patch.png").write_bytes(patch_png)
        paths["patch"] = str(folder / "patch.png")
    paths["perturbation_gain"] = round(gain, 1)
    return paths


def _store_run(store, run_id, request, params, model, status, payload, error, ctx) -> AttackRun:
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO attack_runs (run_id, job_id, attack, params, image_ref, model_id, model_sha256, device, status, "
            "durations, metrics, result, thumbnails, pipeline_id, threat_id, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, ctx.job_id if ctx else None, request.attack,
             json.dumps({**params, "preset": request.preset, "defenses": list(request.defenses),
                         "adaptive": request.adaptive}),
             request.image_ref, model.model_id if model else (request.weights or ""), model.sha256 if model else "",
             model.device if model else "", status, json.dumps(payload.get("durations", {})),
             json.dumps(payload.get("metrics", {})), json.dumps(payload.get("result", {}), default=str),
             json.dumps(payload.get("thumbnails", {})), request.pipeline_id, request.threat_id, error])
    return get_run(store, run_id)


def _attach_evidence(store: Store, run: AttackRun) -> None:
    """Every run becomes attack_run evidence (attached to its threat when launched from one),
    with the attacked frame's instability score as the scalar monitoring reads."""
    from secmlops_core.evidence import add_evidence

    m = run.metrics
    attacked_instability = (run.result.get("instability") or {}).get("attacked") or {}
    summary = (f"{ATTACKS[run.attack].title} on {run.image_ref} ({run.device}): pedestrians "
               f"{m.get('clean_pedestrians')} -> {m.get('attacked_pedestrians')}; "
               f"{'the attack succeeded' if m.get('success') else 'the attack did not reach its goal'}")
    add_evidence(store, "attack_run", f"attack_run:{run.run_id}", summary, pipeline_id=run.pipeline_id,
                 threat_id=run.threat_id, outcome="fail" if m.get("success") else "pass",
                 metrics={**{k: v for k, v in m.items() if not isinstance(v, (dict, list))},
                          "detection_instability": attacked_instability.get("score")})


def get_run(store: Store, run_id: str) -> AttackRun:
    """One stored run."""
    with store.connect() as conn:
        row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM attack_runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise UserFacingError(f"no attack run {run_id!r}")
    return _run(row)


def _run(row) -> AttackRun:
    values = list(row)
    for i in (3, 9, 10, 11, 12):
        values[i] = json.loads(values[i] or "{}")
    return AttackRun(*values)


def list_runs(store: Store, limit: int = 20, status: str | None = None) -> list[AttackRun]:
    """Stored runs, newest first."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM attack_runs {where} ORDER BY created_at DESC LIMIT ?",
                            [*params, int(limit)]).fetchall()
    return [_run(r) for r in rows]


def submit_attack(request: AttackRequest, frame_bgr: np.ndarray | None = None, manager=None,
                  time_limit_s: float = 900.0) -> str:
    """Queue a run as a background job (parameters checked now, so bad input fails at once); returns the job id."""
    from secmlops_core.jobs import get_job_manager

    params, _ = request.checked()
    manager = manager or get_job_manager()

    def work(ctx: JobContext) -> dict:
        run = execute_attack(request, frame_bgr, ctx, manager.store)
        return {"run_id": run.run_id, "metrics": run.metrics}

    return manager.submit(f"attack:{request.attack}", work, title=f"{ATTACKS[request.attack].title} on {request.image_ref}",
                          params={**params, "image": request.image_ref, "defenses": list(request.defenses)},
                          resource=attack_model.job_resource(), time_limit_s=time_limit_s,
                          ref=request.threat_id)
