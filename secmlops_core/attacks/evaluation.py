"""Robustness evaluation over an image set: the security-vs-performance trade-off table.

Rows are defenses (``none`` first), columns clean recall/precision, robust recall per attack
and latency overhead per frame. The reference is the YOLO-format labels when given, else the
clean model's own detections (``basis`` says which). Attacks are computed on the undefended
model (*non-adaptive*); with ``adaptive`` they are also computed through each defense (BPDA).
A second table says how often the detection-side instability check flags clean and attacked frames.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from secmlops_core.attacks import frames as fr
from secmlops_core.attacks.specs import ATTACKS, check_defenses, check_params
from secmlops_core.attacks.defenses import apply_defense, build_preprocessor, detection_instability, match_boxes
from secmlops_core.attacks.families import FrameAttack, attack_frame
from secmlops_core.attacks.model import load_attack_model
from secmlops_core.detector.images import IMAGE_SUFFIXES
from secmlops_core.detector.results import Detection, FrameResult
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, get_settings
from secmlops_core.store import Store

EVALUABLE_FAMILIES = ("evasion", "patch")
MAX_IMAGES = 200


@dataclass
class TradeoffRow:
    """One defense's row."""

    defense: str
    clean_recall: float | None
    clean_precision: float | None
    robust_recall: dict
    robust_recall_adaptive: dict
    latency_ms: float
    overhead_ms: float


@dataclass
class Evaluation:
    """The whole evaluation result."""

    evaluation_id: str
    basis: str  # labels | clean-model
    images: int
    reference_pedestrians: int
    attacks: list
    defenses: list
    rows: list
    instability: dict
    device: str
    model_id: str
    seconds: float
    settings_note: str
    gate: dict = field(default_factory=dict)
    workers: list = field(default_factory=list)  # Ray worker processes that measured the images (fan-out)

    def to_dict(self) -> dict:
        return asdict(self)


def image_files(folder: str | Path) -> list[Path]:
    """Image files of a folder (sorted), bounded by MAX_IMAGES."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserFacingError(f"{folder}: not a directory of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserFacingError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(files) > MAX_IMAGES:
        raise UserFacingError(f"{folder}: {len(files)} images; at most {MAX_IMAGES} per evaluation")
    return files


def read_yolo_labels(path: Path, height: int, width: int, model) -> FrameResult:
    """A YOLO-format label file (``cls cx cy w h`` normalised) as a FrameResult at the given size."""
    return parse_yolo_labels(path.read_text(encoding="utf-8") if path.is_file() else "", str(path), height, width,
                             model)


def parse_yolo_labels(text: str, origin: str, height: int, width: int, model) -> FrameResult:
    """YOLO-format label text as a FrameResult at the given size (``origin`` names it in errors)."""
    detections = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:5])
        except (ValueError, TypeError):
            raise UserFacingError(f"{origin}:{number}: expected 'class cx cy w h', got {line[:80]!r}") from None
        name = model.names.get(cls, str(cls))
        detections.append(Detection(box=((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                                         (cy + h / 2) * height), class_id=cls, class_name=name,
                                    label=model.entry.label(cls, name), confidence=1.0,
                                    is_pedestrian=model.entry.is_pedestrian(cls, name)))
    return FrameResult(tuple(detections), None, 0.0, "", "labels", "")


def _rates(reference: list, found: list) -> tuple[int, int, int]:
    return match_boxes(reference, found), len(reference), len(found)


@dataclass(frozen=True)
class EvaluationPlan:
    """What every image of an evaluation goes through (sent as it is to each worker)."""

    attacks: tuple
    defenses: tuple
    params: dict
    imgsz: int
    adaptive: bool
    labelled: bool  # the reference is label text (missing text: no pedestrian), else the clean model's detections

    def units(self) -> int:
        """Progress units per image: the clean pass, each attack and each adaptive pass."""
        return 1 + len(self.attacks) * (1 + (len(self.defenses) if self.adaptive else 0))


@dataclass
class ImageTally:
    """What one image adds to the table: per-row [matched, reference, found] counts per column,
    per-row latencies, instability flags, its reference pedestrians and the device that measured it."""

    counts: dict
    latency: dict
    flags: dict
    reference: int
    device: str


def tally_image(model, hardened_models: dict, preprocessors: dict, plan: EvaluationPlan, name: str,
                frame_bgr: np.ndarray, labels_text: str | None, tick=None) -> ImageTally:
    """Measure one image for every row and column; ``tick(message)`` follows each unit of work."""
    attacks, defenses, params = plan.attacks, plan.defenses, plan.params
    rows = ["none", *defenses, *hardened_models]
    counts = {r: {"clean": [0, 0, 0], **{a: [0, 0, 0] for a in attacks}, **{f"{a}*": [0, 0, 0] for a in attacks}}
              for r in rows}
    latency = {r: [] for r in rows}
    flags = {"clean": 0, **{a: 0 for a in attacks}}
    tick = tick or (lambda message: None)
    frame = fr.to_attack_frame(frame_bgr, plan.imgsz)
    x = fr.bgr_to_nchw(frame)
    clean = model.predict(x)[0]
    if plan.labelled:
        reference = parse_yolo_labels(labels_text or "", f"labels of {name}", *frame.shape[:2], model)
    else:
        reference = clean
    ref_peds = [d for d in reference.detections if d.is_pedestrian]
    flags["clean"] += detection_instability(model, x, clean).flagged
    hardened_clean = {}
    for row in rows:
        t = time.perf_counter()
        if row in hardened_models:
            result = hardened_clean[row] = hardened_models[row].predict(x)[0]
        else:
            result = model.predict(x if row == "none" else apply_defense(preprocessors[row], x))[0]
        latency[row].append((time.perf_counter() - t) * 1000)
        _add(counts[row]["clean"], ref_peds, result)
    tick(f"{name}: clean")
    for attack in attacks:
        spec = ATTACKS[attack]
        reference_for_attack = FrameResult(tuple(ref_peds), None, 0, "", "", "")
        target = reference_for_attack if spec.family == "patch" else clean
        adversarial = fr.quantise(attack_frame(FrameAttack(model, x, spec, params[attack], target)).adversarial)
        attacked = model.predict(adversarial)[0]
        flags[attack] += detection_instability(model, adversarial, attacked).flagged
        for row in ("none", *defenses):
            shown = adversarial if row == "none" else apply_defense(preprocessors[row], adversarial)
            _add(counts[row][attack], ref_peds, model.predict(shown)[0])
        for row, hardened_model in hardened_models.items():
            own = adversarial if spec.family == "patch" else fr.quantise(attack_frame(FrameAttack(
                hardened_model, x, spec, params[attack], hardened_clean[row])).adversarial)
            _add(counts[row][attack], ref_peds, hardened_model.predict(own)[0])
        tick(f"{name}: {attack}")
        if plan.adaptive and spec.family == "evasion":
            for row in defenses:
                through = FrameAttack(model, x, spec, params[attack], clean, defences=[preprocessors[row]])
                adaptive_x = fr.quantise(attack_frame(through).adversarial)
                _add(counts[row][f"{attack}*"], ref_peds, model.predict(apply_defense(preprocessors[row], adaptive_x))[0])
                tick(f"{name}: {attack} through {row}")
    return ImageTally(counts, latency, flags, len(ref_peds), model.device)


def evaluate(images: list[tuple[str, np.ndarray]], attacks: list[str], defenses: list[str], *,
             labels_dir: str | Path | None = None, imgsz: int = 640, preset: str = "subtle", adaptive: bool = False,
             weights: str | None = None, hardened: list[str] | tuple = (), ctx=None,
             settings: Settings | None = None, executor=None) -> Evaluation:
    """Build the trade-off table for ``images`` = [(name, BGR frame)].

    ``hardened`` adds one row per adversarially trained candidate (``model:<id>``): its clean
    recall, and its recall under each attack computed against the candidate itself (a patch
    is the base model's, as printed). With a Ray ``executor`` (default: that of the job
    manager running ``ctx``), the images are measured by workers, one task per image, and
    merged into the same table."""
    settings = settings or get_settings()
    defenses = check_defenses(defenses)
    for attack in attacks:
        if attack not in ATTACKS or ATTACKS[attack].family not in EVALUABLE_FAMILIES:
            allowed = [a for a, s in ATTACKS.items() if s.family in EVALUABLE_FAMILIES]
            raise UserFacingError(f"{attack!r} cannot be evaluated over an image set; choose from {', '.join(allowed)}")
    plan = EvaluationPlan(tuple(attacks), tuple(defenses),
                          {a: {**check_params(a, None, preset), "imgsz": imgsz} for a in attacks}, imgsz, adaptive,
                          labelled=bool(labels_dir))
    executor = executor if executor is not None else getattr(getattr(ctx, "manager", None), "executor", None)
    started = time.perf_counter()
    if executor is not None:
        tallies, model_id, workers = _fan_out(executor, plan, images, labels_dir, weights, hardened, ctx, settings)
        rows = ["none", *defenses, *(f"model:{c}" for c in dict.fromkeys(hardened))]
    else:
        model = load_attack_model(weights, settings)
        preprocessors = {d: build_preprocessor(d) for d in defenses}
        models = _hardened_models(hardened, model, settings)
        rows = ["none", *defenses, *models]
        units, done, tallies = len(images) * plan.units(), [0], []

        def tick(message: str) -> None:
            done[0] += 1
            _tick(ctx, done[0], units, message)

        for name, frame_bgr in images:
            tallies.append(tally_image(model, models, preprocessors, plan, name, frame_bgr,
                                       _labels_text(labels_dir, name), tick))
        model_id, workers = model.model_id, []
    return _table(plan, rows, tallies, preset, model_id, workers, time.perf_counter() - started)


def _labels_text(labels_dir, name: str) -> str | None:
    path = Path(labels_dir) / f"{Path(name).stem}.txt" if labels_dir else None
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None


def _table(plan: EvaluationPlan, rows: list, tallies: list, preset: str, model_id: str, workers: list,
           seconds: float) -> Evaluation:
    """Merge the images' tallies into the trade-off table."""
    attacks, defenses, adaptive = list(plan.attacks), list(plan.defenses), plan.adaptive
    counts = {r: {k: [sum(t.counts[r][k][i] for t in tallies) for i in range(3)] for k in tallies[0].counts[r]}
              for r in rows}
    latency = {r: [v for t in tallies for v in t.latency[r]] for r in rows}
    flags = {k: sum(t.flags[k] for t in tallies) for k in tallies[0].flags}
    base_latency = float(np.mean(latency["none"]))
    table = []
    for row in rows:
        c = counts[row]
        table.append(TradeoffRow(
            defense=row, clean_recall=_ratio(c["clean"][0], c["clean"][1]), clean_precision=_ratio(c["clean"][0], c["clean"][2]),
            robust_recall={a: _ratio(c[a][0], c[a][1]) for a in attacks},
            robust_recall_adaptive={a: _ratio(c[f"{a}*"][0], c[f"{a}*"][1]) for a in attacks
                                    if adaptive and row in defenses and ATTACKS[a].family == "evasion"},
            latency_ms=round(float(np.mean(latency[row])), 1), overhead_ms=round(float(np.mean(latency[row])) - base_latency, 1)))
    n = len(tallies)
    instability = {"flagged_clean": round(flags["clean"] / n, 4), **{f"flagged_{a}": round(flags[a] / n, 4) for a in attacks}}
    basis = "labels" if plan.labelled else "clean-model"
    hardened = any(r.startswith("model:") for r in rows)
    note = ("robust recall is non-adaptive (attacks computed on the undefended model)"
            + ("; the adaptive columns attack through each defense (BPDA)" if adaptive else "")
            + ("; model:<id> rows are adversarially trained candidates, attacked white-box themselves "
               "(patches are the base model's)" if hardened else "")
            + f"; preset {preset}, frames at {plan.imgsz} px"
            + (f"; measured by {len(set(workers))} Ray worker process(es)" if workers else ""))
    devices = ", ".join(sorted({t.device for t in tallies}))
    return Evaluation(uuid.uuid4().hex[:12], basis, n, sum(t.reference for t in tallies), attacks, defenses,
                      [asdict(r) for r in table], instability, devices, model_id, round(seconds, 2), note,
                      workers=sorted(set(workers)))


@dataclass(frozen=True)
class CandidateParcel:
    """An adversarially trained candidate sent by content: its id, recorded SHA-256 and file bytes."""

    candidate_id: str
    sha256: str
    content: bytes


def _fan_out(executor, plan: EvaluationPlan, images, labels_dir, weights, hardened, ctx, settings):
    """One Ray task per image; returns (tallies in image order, model id, the workers that measured them)."""
    from secmlops_core.attacks.finetune import get_candidate
    from secmlops_core.attacks.remote import weights_parcel
    from secmlops_core.detector.weights import resolve_weights
    from secmlops_core.store import get_store

    entry = resolve_weights(weights, settings)
    parcel = executor.share(f"weights:{entry.sha256}", lambda: weights_parcel(weights, settings))
    candidates = []
    for candidate_id in dict.fromkeys(hardened):
        candidate = get_candidate(get_store(settings.store_path), candidate_id)
        if candidate.kind != "adv-trained":
            raise UserFacingError(f"candidate {candidate_id} is {candidate.kind}, not an adversarially trained model")
        candidates.append(CandidateParcel(candidate_id, candidate.sha256, Path(candidate.path).read_bytes()))
    items = [(name, frame, _labels_text(labels_dir, name)) for name, frame in images]
    done = [0]

    def on_done(index: int, tally) -> None:
        done[0] += 1
        _tick(ctx, done[0], len(items), f"{items[index][0]}: measured on a Ray worker")

    resource = "gpu" if executor.cluster_gpus() > 0 else "cpu"
    tallies, placements = executor.map(ctx, tally_on_worker, items, (plan, parcel, tuple(candidates)), resource,
                                       on_done)
    return tallies, entry.id, [f"{p.node} pid {p.pid} ({p.device})" for p in placements]


def tally_on_worker(item: tuple, plan: EvaluationPlan, parcel, candidates: tuple) -> ImageTally:
    """The Ray task of one image: load the hash-checked weights (and candidates), measure, return the tally."""
    from secmlops_core.attacks.model import load_candidate_model
    from secmlops_core.attacks.remote import load_received_model
    from secmlops_core.files import atomic_write_bytes

    name, frame_bgr, labels_text = item
    model, settings = load_received_model(parcel)
    models = {}
    for candidate in candidates:
        path = settings.home / "received-candidates" / f"{candidate.sha256}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, candidate.content)
        models[f"model:{candidate.candidate_id}"] = load_candidate_model(path, candidate.sha256, model,
                                                                         candidate.candidate_id)
    preprocessors = {d: build_preprocessor(d) for d in plan.defenses}
    return tally_image(model, models, preprocessors, plan, name, frame_bgr, labels_text)


def _hardened_models(candidate_ids, base, settings: Settings) -> dict:
    """``{"model:<id>": AttackModel}`` for adversarially trained candidates, hash-checked on load."""
    from secmlops_core.attacks.finetune import get_candidate
    from secmlops_core.attacks.model import load_candidate_model
    from secmlops_core.store import get_store

    models = {}
    for candidate_id in dict.fromkeys(candidate_ids):
        candidate = get_candidate(get_store(settings.store_path), candidate_id)
        if candidate.kind != "adv-trained":
            raise UserFacingError(f"candidate {candidate_id} is {candidate.kind}, not an adversarially trained model")
        models[f"model:{candidate_id}"] = load_candidate_model(candidate.path, candidate.sha256, base, candidate_id)
    return models


def _add(totals: list, reference: list, result: FrameResult) -> None:
    found = [d for d in result.detections if d.is_pedestrian]
    matched, ref, got = _rates(reference, found)
    totals[0] += matched
    totals[1] += ref
    totals[2] += got


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _tick(ctx, done: int, total: int, message: str) -> None:
    if ctx is not None:
        ctx.progress(done / max(1, total), message)


def apply_gate(evaluation: Evaluation, min_robust_recall: float | None, defense: str = "none") -> dict:
    """Check one row (the configuration to deploy) against a minimum robust recall over all attacks."""
    if min_robust_recall is None:
        return {}
    row = next((r for r in evaluation.rows if r["defense"] == defense), None)
    if row is None:
        raise UserFacingError(f"the gate's defense {defense!r} is not a row of this evaluation")
    values = [v for v in row["robust_recall"].values() if v is not None]
    worst = min(values) if values else None
    gate = {"defense": defense, "min_robust_recall": min_robust_recall, "worst_robust_recall": worst,
            "passed": worst is not None and worst >= min_robust_recall}
    evaluation.gate = gate
    return gate


def store_evaluation(store: Store, evaluation: Evaluation, params: dict, job_id: str | None = None,
                     pipeline_id: str | None = None, threat_id: str | None = None) -> None:
    """Persist an evaluation and record it as robustness evidence (the release gate reads it).

    Evidence without a pipeline belongs to the live detector, so it counts for every pipeline
    linked to it. Its outcome is the gate's verdict when a minimum robust recall was set, else
    ``info`` (which a gate reads as "no evidence").
    """
    with store.connect() as conn:
        conn.execute("INSERT INTO robustness_evaluations (evaluation_id, job_id, params, basis, device, result, "
                     "gate_passed, pipeline_id, threat_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [evaluation.evaluation_id, job_id, json.dumps(params), evaluation.basis, evaluation.device,
                      json.dumps(evaluation.to_dict()), evaluation.gate.get("passed"), pipeline_id, threat_id])
    from secmlops_core.evidence import add_evidence

    none_row = evaluation.rows[0]
    summary = (f"Robustness evaluation over {evaluation.images} image(s) ({evaluation.basis}): clean recall "
               f"{none_row['clean_recall']}, robust recall {none_row['robust_recall']}")
    gate = evaluation.gate
    if gate:
        summary += (f"; gate: worst robust recall with defense {gate['defense']} is {gate['worst_robust_recall']} "
                    f"(minimum {gate['min_robust_recall']}): {'passed' if gate['passed'] else 'failed'}")
    add_evidence(store, "robustness_evaluation", f"evaluation:{evaluation.evaluation_id}", summary,
                 pipeline_id=pipeline_id, threat_id=threat_id,
                 outcome="info" if not gate else ("pass" if gate["passed"] else "fail"),
                 metrics={"basis": evaluation.basis, "images": evaluation.images,
                          **({"worst_robust_recall": gate["worst_robust_recall"],
                              "min_robust_recall": gate["min_robust_recall"]} if gate else {})})


def latest_evaluations(store: Store, limit: int = 5) -> list[dict]:
    """Stored evaluations (result dicts), newest first."""
    with store.connect() as conn:
        rows = conn.execute("SELECT result FROM robustness_evaluations ORDER BY created_at DESC LIMIT ?",
                            [int(limit)]).fetchall()
    return [json.loads(r[0]) for r in rows]
