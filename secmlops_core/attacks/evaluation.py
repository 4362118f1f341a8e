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
    detections = []
    if path.is_file():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:5])
            except (ValueError, TypeError):
                raise UserFacingError(f"{path}:{number}: expected 'class cx cy w h', got {line[:80]!r}") from None
            name = model.names.get(cls, str(cls))
            detections.append(Detection(box=((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                                             (cy + h / 2) * height), class_id=cls, class_name=name,
                                        label=model.entry.label(cls, name), confidence=1.0,
                                        is_pedestrian=model.entry.is_pedestrian(cls, name)))
    return FrameResult(tuple(detections), None, 0.0, "", "labels", "")


def _rates(reference: list, found: list) -> tuple[int, int, int]:
    return match_boxes(reference, found), len(reference), len(found)


def evaluate(images: list[tuple[str, np.ndarray]], attacks: list[str], defenses: list[str], *,
             labels_dir: str | Path | None = None, imgsz: int = 640, preset: str = "subtle", adaptive: bool = False,
             weights: str | None = None, hardened: list[str] | tuple = (), ctx=None,
             settings: Settings | None = None) -> Evaluation:
    """Build the trade-off table for ``images`` = [(name, BGR frame)].

    ``hardened`` adds one row per adversarially trained candidate (``model:<id>``): its clean
    recall, and its recall under each attack computed against the candidate itself (a patch
    is the base model's, as printed)."""
    settings = settings or get_settings()
    defenses = check_defenses(defenses)
    for attack in attacks:
        if attack not in ATTACKS or ATTACKS[attack].family not in EVALUABLE_FAMILIES:
            allowed = [a for a, s in ATTACKS.items() if s.family in EVALUABLE_FAMILIES]
            raise UserFacingError(f"{attack!r} cannot be evaluated over an image set; choose from {', '.join(allowed)}")
    params = {a: {**check_params(a, None, preset), "imgsz": imgsz} for a in attacks}
    model = load_attack_model(weights, settings)
    started = time.perf_counter()
    preprocessors = {d: build_preprocessor(d) for d in defenses}
    models = _hardened_models(hardened, model, settings)
    rows = ["none", *defenses, *models]
    counts = {r: {"clean": [0, 0, 0], **{a: [0, 0, 0] for a in attacks}, **{f"{a}*": [0, 0, 0] for a in attacks}}
              for r in rows}
    latency = {r: [] for r in rows}
    flags = {"clean": 0, **{a: 0 for a in attacks}}
    reference_total = 0
    units = len(images) * (1 + len(attacks) * (1 + (len(defenses) if adaptive else 0)))
    done = 0
    for name, frame_bgr in images:
        frame = fr.to_attack_frame(frame_bgr, imgsz)
        x = fr.bgr_to_nchw(frame)
        clean = model.predict(x)[0]
        if labels_dir:
            reference = read_yolo_labels(Path(labels_dir) / f"{Path(name).stem}.txt", *frame.shape[:2], model)
        else:
            reference = clean
        ref_peds = [d for d in reference.detections if d.is_pedestrian]
        reference_total += len(ref_peds)
        flags["clean"] += detection_instability(model, x, clean).flagged
        hardened_clean = {}
        for row in rows:
            t = time.perf_counter()
            if row in models:
                result = hardened_clean[row] = models[row].predict(x)[0]
            else:
                result = model.predict(x if row == "none" else apply_defense(preprocessors[row], x))[0]
            latency[row].append((time.perf_counter() - t) * 1000)
            _add(counts[row]["clean"], ref_peds, result)
        done += 1
        _tick(ctx, done, units, f"{name}: clean")
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
            for row, hardened_model in models.items():
                own = adversarial if spec.family == "patch" else fr.quantise(attack_frame(FrameAttack(
                    hardened_model, x, spec, params[attack], hardened_clean[row])).adversarial)
                _add(counts[row][attack], ref_peds, hardened_model.predict(own)[0])
            done += 1
            _tick(ctx, done, units, f"{name}: {attack}")
            if adaptive and spec.family == "evasion":
                for row in defenses:
                    through = FrameAttack(model, x, spec, params[attack], clean, defences=[preprocessors[row]])
                    adaptive_x = fr.quantise(attack_frame(through).adversarial)
                    _add(counts[row][f"{attack}*"], ref_peds, model.predict(apply_defense(preprocessors[row], adaptive_x))[0])
                    done += 1
                    _tick(ctx, done, units, f"{name}: {attack} through {row}")
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
    n = len(images)
    instability = {"flagged_clean": round(flags["clean"] / n, 4), **{f"flagged_{a}": round(flags[a] / n, 4) for a in attacks}}
    basis = "labels" if labels_dir else "clean-model"
    note = ("robust recall is non-adaptive (attacks computed on the undefended model)"
            + ("; the adaptive columns attack through each defense (BPDA)" if adaptive else "")
            + ("; model:<id> rows are adversarially trained candidates, attacked white-box themselves "
               "(patches are the base model's)" if models else "")
            + f"; preset {preset}, frames at {imgsz} px")
    return Evaluation(uuid.uuid4().hex[:12], basis, n, reference_total, list(attacks), list(defenses),
                      [asdict(r) for r in table], instability, model.device, model.model_id,
                      round(time.perf_counter() - started, 2), note)


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
