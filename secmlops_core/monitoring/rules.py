"""Alert rules and runbooks as data (``catalog/alert_rules.yaml``), loaded and checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from secmlops_core.errors import ValidationFailed

SEVERITIES = ("critical", "high", "medium", "low", "info")
KINDS = {
    "drift_share": {"current_minutes", "share", "min_rows", "snapshot_every_minutes", "end_after_minutes", "reference",
                    "columns"},
    "confidence_drop": {"current_minutes", "drop", "min_frames"},
    "latency_slo": {"window_minutes", "p95_ms", "min_frames"},
    "pedestrian_anomaly": {"current_minutes", "relative_change", "min_reference", "min_frames"},
    "detection_instability": {"window_minutes", "flicker", "min_frames", "evidence_lookback_minutes",
                              "evidence_metric", "evidence_threshold"},
    "feed_down": {"ignore_states", "max_age_hours"},
    "attack_evidence": {"lookback_minutes", "severity_when_failed"},
}
USER_RULES_FILE = "alert_rules.yaml"
REFERENCE_PARAMS = {"settle_minutes", "minutes", "scenario", "max_gap_seconds"}
DRIFT_TESTS = ("wasserstein", "jensenshannon")  # distances: their binned summaries have a known error bound


@dataclass(frozen=True)
class Runbook:
    """What to do when a rule fires."""

    id: str
    title: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class AlertRule:
    """One alert rule."""

    id: str
    title: str
    kind: str
    signal: str | None
    severity: str
    owner_role: str
    cooldown_minutes: float
    runbook: str
    params: dict = field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True)
class AlertCatalog:
    """Rules by id and runbooks by id."""

    rules: dict[str, AlertRule]
    runbooks: dict[str, Runbook]


def parse_alert_rules(document, source: str) -> AlertCatalog:
    """Check an alert-rules document; raises ValidationFailed listing every problem."""
    from secmlops_core.catalog.loading import load_roles

    problems: list[str] = []
    if not isinstance(document, dict):
        raise ValidationFailed([f"{source}: expected a mapping with 'rules' and 'runbooks'"], source)
    runbooks = {}
    for rb_id, raw in (document.get("runbooks") or {}).items():
        if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
            problems.append(f"{source}: runbook {rb_id!r} needs a title and a non-empty list of steps")
            continue
        runbooks[str(rb_id)] = Runbook(str(rb_id), str(raw.get("title", rb_id)), tuple(str(s) for s in raw["steps"]))
    roles = load_roles()
    rules: dict[str, AlertRule] = {}
    for index, raw in enumerate(document.get("rules") or []):
        where = f"{source}: rule #{index + 1}"
        if not isinstance(raw, dict) or not raw.get("id"):
            problems.append(f"{where}: needs an id")
            continue
        where = f"{source}: rule {raw['id']!r}"
        kind = raw.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            problems.append(f"{where}: params must be a mapping")
            continue
        missing, extra = KINDS[kind] - set(params), set(params) - KINDS[kind]
        if missing:
            problems.append(f"{where}: params missing {', '.join(sorted(missing))}")
        if extra:
            problems.append(f"{where}: unknown params {', '.join(sorted(extra))}")
        for key, value in params.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                problems.append(f"{where}: param {key} must not be negative")
        if kind == "drift_share":
            problems.extend(_drift_problems(where, params))
        if raw.get("severity") not in SEVERITIES:
            problems.append(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        if raw.get("owner_role") not in roles:
            problems.append(f"{where}: owner_role {raw.get('owner_role')!r} is not a role id ({', '.join(roles)})")
        if raw.get("runbook") not in runbooks:
            problems.append(f"{where}: runbook {raw.get('runbook')!r} is not defined under runbooks")
        cooldown = raw.get("cooldown_minutes", 0)
        if not isinstance(cooldown, (int, float)) or cooldown < 0:
            problems.append(f"{where}: cooldown_minutes must be a number >= 0")
            cooldown = 0
        if raw["id"] in rules:
            problems.append(f"{where}: duplicate id")
        rules[str(raw["id"])] = AlertRule(str(raw["id"]), str(raw.get("title", raw["id"])), kind, raw.get("signal"),
                                          str(raw.get("severity")), str(raw.get("owner_role")), float(cooldown),
                                          str(raw.get("runbook")), dict(params), bool(raw.get("enabled", True)))
    if problems:
        raise ValidationFailed(problems, source)
    return AlertCatalog(rules, runbooks)


def _drift_problems(where: str, params: dict) -> list[str]:
    """Problems in a drift rule's ``reference`` and ``columns`` params."""
    from secmlops_core.monitoring.drift import FEATURES

    problems = []
    reference = params.get("reference")
    if not isinstance(reference, dict) or set(reference) - REFERENCE_PARAMS or REFERENCE_PARAMS - set(reference):
        problems.append(f"{where}: reference needs exactly {', '.join(sorted(REFERENCE_PARAMS))}")
    columns = params.get("columns")
    if not isinstance(columns, dict) or not columns:
        return problems + [f"{where}: columns must map column names to {{test, threshold}}"]
    for column, spec in columns.items():
        if column not in FEATURES:
            problems.append(f"{where}: column {column!r} is not a drift column ({', '.join(FEATURES)})")
        elif not isinstance(spec, dict) or spec.get("test") not in DRIFT_TESTS:
            problems.append(f"{where}: column {column!r} needs a test, one of {', '.join(DRIFT_TESTS)}")
        elif not isinstance(spec.get("threshold"), (int, float)) or spec["threshold"] <= 0:
            problems.append(f"{where}: column {column!r} needs a threshold > 0")
    return problems


@lru_cache(maxsize=8)
def _load(path: str | None, mtime: float | None) -> AlertCatalog:
    if path is None:
        text = resources.files("secmlops_core.catalog").joinpath("alert_rules.yaml").read_text(encoding="utf-8")
        source = "catalog/alert_rules.yaml"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), path
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed([f"{source}: not valid YAML: {exc}"], source) from None
    return parse_alert_rules(document, source)


def load_alert_rules(home: Path | None = None) -> AlertCatalog:
    """The operator's ``<home>/alert_rules.yaml`` when present, else the shipped rules."""
    if home is not None:
        user = Path(home) / USER_RULES_FILE
        if user.is_file():
            return _load(str(user), user.stat().st_mtime)
    return _load(None, None)
