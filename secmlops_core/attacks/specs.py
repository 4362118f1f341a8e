"""The attack and defense catalog as data: ids (also the threat rules' ``demo:`` ids), checked parameters, presets."""

from __future__ import annotations

from dataclasses import dataclass, field

from secmlops_core.errors import UserFacingError, ValidationFailed

MAX_STEPS = 500


@dataclass(frozen=True)
class ParamSpec:
    """One numeric parameter with its allowed range (``low`` exclusive when ``low_open``)."""

    name: str
    kind: type
    low: float
    high: float
    default: float
    help: str
    low_open: bool = False

    def check(self, raw, problems: list[str], owner: str):
        try:
            value = self.kind(raw)
            if self.kind is int and float(raw) != value:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(f"{owner}: {self.name} must be {'an integer' if self.kind is int else 'a number'}, got {raw!r}")
            return None
        if value != value or (value <= self.low if self.low_open else value < self.low) or value > self.high:
            bracket = "(" if self.low_open else "["
            problems.append(f"{owner}: {self.name} = {raw} is outside {bracket}{self.low:g}, {self.high:g}] ({self.help})")
            return None
        return value


@dataclass(frozen=True)
class AttackSpec:
    """An attack the lab can run; ``family`` picks the implementation."""

    id: str
    title: str
    family: str  # evasion | patch | classifier | poisoning
    goal: str  # vanish | ghost | flip | hide | misclassify | backdoor | label-flip
    description: str
    params: tuple[ParamSpec, ...]
    presets: dict = field(default_factory=dict)
    knowledge: str = "white-box (gradients)"
    prefers_gpu: bool = False

    def param(self, name: str) -> ParamSpec:
        return next(p for p in self.params if p.name == name)


def _eps(default):
    return ParamSpec("eps", float, 0.0, 1.0, default, "L-infinity budget in [0, 1] pixel units, e.g. 8/255 = 0.031",
                     low_open=True)


def _step(default):
    return ParamSpec("step", float, 0.0, 1.0, default, "step size per iteration", low_open=True)


def _steps(default):
    return ParamSpec("steps", int, 1, MAX_STEPS, default, f"iterations, at most {MAX_STEPS}")


_IMGSZ = ParamSpec("imgsz", int, 64, 1280, 640, "long side of the attacked frame in pixels (rounded to 32)")
_CROP = ParamSpec("crop_size", int, 64, 640, 192, "side of the square crop the classifier view sees")
_CROPS = ParamSpec("max_crops", int, 1, 16, 4, "how many pedestrian crops to attack")
_PGD_PRESETS = {"subtle": {"eps": 4 / 255, "step": 1 / 255, "steps": 10},
                "strong": {"eps": 12 / 255, "step": 3 / 255, "steps": 20}}
_POISON_PARAMS = (
    ParamSpec("epochs", int, 1, 50, 2, "passes over the fine-tuning set"),
    ParamSpec("imgsz", int, 96, 1280, 320, "training image size"),
    ParamSpec("samples", int, 4, 512, 24, "augmented crops in the fine-tuning set"),
    ParamSpec("poison_fraction", float, 0.0, 1.0, 0.5, "share of the fine-tuning set that is poisoned", low_open=True),
    ParamSpec("lr", float, 0.0, 0.1, 0.002, "SGD learning rate (gradients clipped at norm 10)", low_open=True),
)

#: The training-time defense: adversarial fine-tuning (half of every batch replaced by FGSM-vanish examples).
HARDENING_PARAMS = (
    ParamSpec("eps", float, 0.0, 1.0, 8 / 255, "FGSM budget of the training examples, in [0, 1] pixel units",
              low_open=True),
    ParamSpec("epochs", int, 1, 50, 2, "passes over the fine-tuning set"),
    ParamSpec("imgsz", int, 96, 1280, 320, "training image size"),
    ParamSpec("samples", int, 4, 512, 24, "augmented crops in the fine-tuning set"),
    ParamSpec("lr", float, 0.0, 0.1, 0.002, "SGD learning rate (gradients clipped at norm 10)", low_open=True),
)


def check_hardening_params(raw: dict | None = None) -> dict:
    """Defaults overridden by ``raw``, every value range-checked (ValidationFailed lists all problems)."""
    problems: list[str] = []
    checked = checked_params(HARDENING_PARAMS, {}, raw, "adversarial training", problems)
    if problems:
        raise ValidationFailed(problems, subject="adversarial training parameters")
    return checked


def checked_params(specs, preset_values: dict, raw: dict | None, owner: str, problems: list[str]) -> dict:
    """Defaults, then a preset's values, then ``raw`` (None values ignored), each range-checked;
    problems are appended to ``problems``."""
    merged = {p.name: p.default for p in specs}
    merged.update(preset_values)
    for name, value in (raw or {}).items():
        if value is None:
            continue
        if name not in merged:
            problems.append(f"{owner}: unknown parameter {name!r} (known: {', '.join(merged)})")
            continue
        merged[name] = value
    return {p.name: p.check(merged[p.name], problems, owner) for p in specs}


ATTACKS: dict[str, AttackSpec] = {a.id: a for a in (
    AttackSpec("fgsm", "FGSM (vanish)", "evasion", "vanish",
               "One signed-gradient step that pushes every detection toward the empty set.",
               (_eps(4 / 255), _IMGSZ), {"subtle": {"eps": 4 / 255}, "strong": {"eps": 16 / 255}}),
    AttackSpec("pgd-vanish", "PGD vanish", "evasion", "vanish",
               "Projected gradient descent minimising the detection loss toward an empty target set: "
               "pedestrians disappear.", (_eps(4 / 255), _step(1 / 255), _steps(10), _IMGSZ), _PGD_PRESETS),
    AttackSpec("pgd-ghost", "PGD ghost", "evasion", "ghost",
               "PGD toward the clean detections plus extra pedestrian boxes: false pedestrians appear.",
               (_eps(8 / 255), _step(2 / 255), _steps(10), _IMGSZ,
                ParamSpec("ghosts", int, 1, 20, 3, "extra pedestrian boxes to create")),
               {"subtle": {"eps": 6 / 255, "step": 2 / 255, "steps": 10, "ghosts": 2},
                "strong": {"eps": 16 / 255, "step": 4 / 255, "steps": 20, "ghosts": 4}}),
    AttackSpec("pgd-flip", "PGD class flip", "evasion", "flip",
               "PGD toward the clean boxes with swapped classes: upright pedestrians read as fallen and back.",
               (_eps(8 / 255), _step(2 / 255), _steps(10), _IMGSZ),
               {"subtle": {"eps": 6 / 255, "step": 2 / 255, "steps": 10},
                "strong": {"eps": 16 / 255, "step": 4 / 255, "steps": 20}}),
    AttackSpec("patch", "Adversarial patch", "patch", "hide",
               "A printable patch (Thys et al. 2019 style) pasted on each pedestrian, trained to minimise the "
               "pedestrian score. Uses the shipped precomputed patch unless training is asked for.",
               (ParamSpec("scale", float, 0.05, 1.0, 0.6, "patch side as a share of the box width"),
                ParamSpec("train_steps", int, 0, 2000, 0, "0 = the shipped patch; else train a new one"), _IMGSZ),
               {"subtle": {"scale": 0.6, "train_steps": 0}, "strong": {"scale": 0.8, "train_steps": 0}},
               knowledge="white-box at training time, physical at use", prefers_gpu=True),
    AttackSpec("deepfool", "DeepFool (classifier view)", "classifier", "misclassify",
               "Minimal perturbation that flips the 'is there a pedestrian in this crop' view of the detector.",
               (ParamSpec("max_iter", int, 1, 100, 20, "DeepFool iterations"),
                ParamSpec("overshoot", float, 0.0, 1.0, 0.1, "overshoot (epsilon) past the boundary", low_open=True),
                _CROP, _CROPS, _IMGSZ),
               {"subtle": {"max_iter": 10, "overshoot": 0.02}, "strong": {"max_iter": 50, "overshoot": 0.3}}),
    AttackSpec("hopskipjump", "HopSkipJump (black-box)", "classifier", "misclassify",
               "Decision-based, query-only attack on the crop classifier view: no gradients, only answers.",
               (ParamSpec("max_iter", int, 1, 50, 3, "HopSkipJump iterations"),
                ParamSpec("max_eval", int, 10, 5000, 100, "queries per gradient estimate"),
                ParamSpec("init_eval", int, 1, 500, 10, "initial queries per estimate"),
                ParamSpec("crop_size", int, 64, 640, 128, "side of the square crop"),
                ParamSpec("max_crops", int, 1, 16, 1, "how many pedestrian crops to attack"), _IMGSZ),
               {"subtle": {"max_iter": 2, "max_eval": 50, "init_eval": 10},
                "strong": {"max_iter": 10, "max_eval": 300, "init_eval": 20}},
               knowledge="black-box (decisions only)"),
    AttackSpec("poisoning-backdoor", "Data poisoning: backdoor trigger", "poisoning", "backdoor",
               "BadNets-style: a trigger stamped on pedestrians in part of a small fine-tuning set whose labels are "
               "removed; the fine-tuned candidate misses triggered pedestrians.", _POISON_PARAMS,
               {"subtle": {"epochs": 1, "samples": 16, "poison_fraction": 0.3},
                "strong": {"epochs": 4, "samples": 48, "poison_fraction": 0.6}},
               knowledge="training-data access", prefers_gpu=True),
    AttackSpec("poisoning-label-flip", "Data poisoning: label flipping", "poisoning", "label-flip",
               "Upright and fallen labels swapped in part of a small fine-tuning set.", _POISON_PARAMS,
               {"subtle": {"epochs": 1, "samples": 16, "poison_fraction": 0.3},
                "strong": {"epochs": 4, "samples": 48, "poison_fraction": 0.8}},
               knowledge="training-data access", prefers_gpu=True),
)}

#: Demo ids the threat rules may name (``demo:``); every attack id is one.
DEMO_IDS = tuple(ATTACKS)
PRESETS = ("subtle", "strong")


def get_attack(attack_id: str) -> AttackSpec:
    """The spec for an attack id, or a UserFacingError listing the known ones."""
    try:
        return ATTACKS[attack_id]
    except KeyError:
        raise UserFacingError(f"unknown attack {attack_id!r}; known: {', '.join(ATTACKS)}") from None


def check_params(attack_id: str, raw: dict | None = None, preset: str | None = None) -> dict:
    """Defaults, then the preset, then ``raw``; every value range-checked (ValidationFailed lists all problems)."""
    spec = get_attack(attack_id)
    if preset is not None and preset not in spec.presets:
        raise UserFacingError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    problems: list[str] = []
    checked = checked_params(spec.params, spec.presets.get(preset, {}) if preset else {}, raw, attack_id, problems)
    if "step" in checked and "eps" in checked and not problems and checked["step"] > checked["eps"]:
        problems.append(f"{attack_id}: step ({checked['step']:.4f}) must not exceed eps ({checked['eps']:.4f})")
    if problems:
        raise ValidationFailed(problems, subject="attack parameters")
    return checked


@dataclass(frozen=True)
class DefenseSpec:
    """An input-preprocessing defense (ART preprocessor) with its parameters."""

    id: str
    title: str
    art_class: str
    params: tuple[ParamSpec, ...]
    description: str


DEFENSES: dict[str, DefenseSpec] = {d.id: d for d in (
    DefenseSpec("jpeg", "JPEG compression", "JpegCompression",
                (ParamSpec("quality", int, 1, 100, 50, "JPEG quality"),),
                "Re-encode the frame as JPEG; no gradient (attacks through it are BPDA)."),
    DefenseSpec("median", "Median smoothing", "SpatialSmoothing",
                (ParamSpec("window_size", int, 2, 11, 3, "median filter window"),),
                "Median filter over a small window."),
    DefenseSpec("squeeze", "Feature squeezing", "FeatureSqueezing",
                (ParamSpec("bit_depth", int, 1, 8, 4, "bits per channel kept"),),
                "Reduce colour depth per channel."),
    DefenseSpec("tvm", "Total-variation minimisation", "TotalVarMin",
                (ParamSpec("prob", float, 0.0, 1.0, 0.3, "share of pixels kept as anchors", low_open=True),
                 ParamSpec("max_iter", int, 1, 50, 3, "solver iterations")),
                "Reconstruct the frame from random pixels with minimal total variation (slow)."),
)}


def row_title(row: str) -> str:
    """How a trade-off table row is named on screen: no defense, a preprocessing defense, or a hardened model."""
    if row == "none":
        return "none"
    if row in DEFENSES:
        return DEFENSES[row].title
    return f"adversarially trained {row.removeprefix('model:')}"


def check_defenses(ids) -> list[str]:
    """Validate defense ids (order kept, duplicates dropped)."""
    unknown = [d for d in ids if d not in DEFENSES]
    if unknown:
        raise UserFacingError(f"unknown defense(s) {', '.join(map(repr, unknown))}; known: {', '.join(DEFENSES)}")
    return list(dict.fromkeys(ids))
