"""Governance catalogs as data: frameworks, gates, the default RACI and the tooling map.

Every file is validated against the role and control catalogs when loaded; a broken
catalog raises ValidationFailed naming each problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from secmlops_core.catalog.loading import load_controls, load_references, load_roles
from secmlops_core.errors import ValidationFailed

RACI_LETTERS = "RACI"
CANONICAL_ORDER = "ARCI"  # how letters of one cell are written: "AR", not "RA"
RACI_NAMES = {"R": "Responsible", "A": "Accountable", "C": "Consulted", "I": "Informed"}
CHECK_TYPES = {
    "register_generated": (), "threat_model_current": (), "open_threats": ("max_band", "lifecycle"),
    "accountability": ("min_band",), "stage_property": ("kinds", "property", "equals"),
    "flow_property": ("data_kinds", "property", "equals"), "controls": ("ids",),
    "evidence": ("kind", "max_age_days"), "evidence_exists": ("kind", "max_age_days"),
    "provenance": ("artifact",), "weights_verified": (), "approval": (), "incidents": ("max_open_severity",),
}
TOOL_SIGNALS = ("evidence", "stage_property", "audit_chain", "weights_registry", "accounts")


@dataclass(frozen=True)
class Requirement:
    """One framework requirement (a NIST category, an ISO clause, an AI Act article)."""

    id: str
    group: str
    title: str
    summary: str
    controls: tuple[str, ...]
    gates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    """A compliance framework and its requirements."""

    id: str
    name: str
    source: str
    groups: dict
    requirements: tuple[Requirement, ...]

    def requirement(self, requirement_id: str) -> Requirement:
        """The requirement with this id (KeyError when absent)."""
        for requirement in self.requirements:
            if requirement.id == requirement_id:
                return requirement
        raise KeyError(requirement_id)


@dataclass(frozen=True)
class GateCheck:
    """What one criterion checks (``type``) and the fields its type reads (``CHECK_TYPES``)."""

    type: str
    max_band: str | None = None
    lifecycle: tuple[str, ...] = ()
    min_band: str | None = None
    kinds: tuple[str, ...] = ()
    property: str | None = None
    equals: object = None
    data_kinds: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    kind: str | None = None
    max_age_days: float | None = None
    artifact: str | None = None
    max_open_severity: str | None = None

    def as_dict(self) -> dict:
        """The fields the catalog set, as written in ``gates.yaml``."""
        return {"type": self.type, **{name: list(value) if isinstance(value, tuple) else value
                                      for name in CHECK_TYPES[self.type]
                                      if (value := getattr(self, name)) not in (None, ())}}


@dataclass(frozen=True)
class Criterion:
    """One pass criterion of a gate."""

    id: str
    title: str
    check: GateCheck


@dataclass(frozen=True)
class GateDef:
    """A lifecycle security gate."""

    id: str
    title: str
    lifecycle: tuple[str, ...]
    ptpgc: tuple[str, ...]
    owner: str
    description: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class LifecycleStage:
    """A RACI row of the lifecycle."""

    id: str
    name: str


@dataclass(frozen=True)
class Tool:
    """Tooling that controls rely on, with the signal that shows it in use."""

    id: str
    name: str
    signal: dict
    controls: tuple[str, ...]


def _text(relative: str) -> str:
    return resources.files("secmlops_core.catalog").joinpath(relative).read_text(encoding="utf-8")


def check_cells(cells, where: str, problems: list[str], roles=None) -> dict[str, str]:
    """A RACI row's cells normalised (``{role: "AR"}``); problems appended, never raised."""
    roles = roles if roles is not None else load_roles()
    if not isinstance(cells, dict):
        problems.append(f"{where}: a RACI row must map role ids to letters")
        return {}
    clean = {}
    for role_id, letters in cells.items():
        text = "".join(sorted(set(str(letters or "").upper().replace(" ", "").replace(",", "")),
                              key=CANONICAL_ORDER.find))
        if role_id not in roles:
            problems.append(f"{where}: unknown role {role_id!r} (known: {', '.join(roles)})")
            continue
        bad = set(text) - set(RACI_LETTERS)
        if bad:
            problems.append(f"{where}: role {role_id}: {str(letters)!r} is not made of R, A, C, I")
            continue
        if text:
            clean[role_id] = text
    accountable = [r for r, letters in clean.items() if "A" in letters]
    if len(accountable) > 1:
        problems.append(f"{where}: {len(accountable)} accountable roles ({', '.join(accountable)}); "
                        "a row has exactly one accountable role")
    return clean


@lru_cache(maxsize=1)
def lifecycle_stages() -> tuple[LifecycleStage, ...]:
    """The RACI lifecycle stages, in order."""
    return tuple(LifecycleStage(s["id"], s["name"]) for s in yaml.safe_load(_text("raci.yaml"))["stages"])


@lru_cache(maxsize=1)
def default_raci() -> dict[tuple[str, str], dict[str, str]]:
    """The default RACI: ``{(row_type, row_id): {role_id: letters}}`` for stages and controls."""
    raw = yaml.safe_load(_text("raci.yaml"))
    controls, problems = load_controls(), []
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for stage in raw["stages"]:
        rows[("stage", stage["id"])] = check_cells(stage["raci"], f"raci.yaml: stage {stage['id']}", problems)
    overrides = raw["controls"].get("rows", {})
    for control_id in overrides:
        if control_id not in controls:
            problems.append(f"raci.yaml: unknown control {control_id!r}")
    for control_id, control in controls.items():
        cells = overrides.get(control_id, {control.owner: raw["controls"]["default_owner"]})
        rows[("control", control_id)] = check_cells(cells, f"raci.yaml: control {control_id}", problems)
    if problems:
        raise ValidationFailed(problems, "default RACI catalog")
    return rows


@lru_cache(maxsize=1)
def load_gates() -> tuple[GateDef, ...]:
    """The lifecycle gates, validated."""
    raw = yaml.safe_load(_text("gates.yaml"))["gates"]
    problems: list[str] = []
    roles, controls = load_roles(), load_controls()
    stages = {s.id for s in lifecycle_stages()}
    ptpgc = set(load_references().ptpgc)
    gates = []
    for entry in raw:
        where = f"gates.yaml: gate {entry.get('id')}"
        if entry.get("owner") not in roles:
            problems.append(f"{where}: owner {entry.get('owner')!r} is not a role id")
        problems += [f"{where}: unknown lifecycle stage {s!r}" for s in entry.get("lifecycle", []) if s not in stages]
        problems += [f"{where}: unknown PTPGC component {c!r}" for c in entry.get("ptpgc", []) if c not in ptpgc]
        criteria = []
        for item in entry.get("criteria", []):
            check = dict(item.get("check") or {})
            kind = check.get("type")
            if kind not in CHECK_TYPES:
                problems.append(f"{where}: criterion {item.get('id')}: unknown check {kind!r}")
                continue
            extra = set(check) - {"type", *CHECK_TYPES[kind]}
            if extra:
                problems.append(f"{where}: criterion {item.get('id')}: unknown field(s) {', '.join(sorted(extra))}")
            problems += [f"{where}: criterion {item.get('id')}: unknown control {c!r}"
                         for c in check.get("ids", []) if c not in controls]
            fields = {name: tuple(value) if isinstance(value, list) else value
                      for name, value in check.items() if name in CHECK_TYPES[kind]}
            criteria.append(Criterion(str(item["id"]), str(item["title"]), GateCheck(kind, **fields)))
        gates.append(GateDef(entry["id"], entry["title"], tuple(entry.get("lifecycle", [])),
                             tuple(entry.get("ptpgc", [])), entry["owner"], entry.get("description", ""),
                             tuple(criteria)))
    if problems:
        raise ValidationFailed(problems, "gates catalog")
    return tuple(gates)


@lru_cache(maxsize=1)
def load_frameworks() -> dict[str, Framework]:
    """Compliance frameworks by id (shipped mappings, before any stored edits)."""
    folder = resources.files("secmlops_core.catalog").joinpath("frameworks")
    controls, gate_ids = load_controls(), {g.id for g in load_gates()}
    problems: list[str] = []
    frameworks = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(entry.read_text(encoding="utf-8"))
        groups = {str(k): v for k, v in raw["groups"].items()}
        requirements, seen = [], set()
        for item in raw["requirements"]:
            rid, where = str(item["id"]), f"frameworks/{entry.name}: {item['id']}"
            if rid in seen:
                problems.append(f"{where}: duplicate requirement id")
            seen.add(rid)
            if str(item["group"]) not in groups:
                problems.append(f"{where}: unknown group {item['group']!r}")
            problems += [f"{where}: unknown control {c!r}" for c in item.get("controls", []) if c not in controls]
            problems += [f"{where}: unknown gate {g!r}" for g in item.get("gates", []) if g not in gate_ids]
            requirements.append(Requirement(rid, str(item["group"]), item["title"], item["summary"],
                                            tuple(item.get("controls", [])), tuple(item.get("gates", []))))
        frameworks[raw["id"]] = Framework(raw["id"], raw["name"], raw["source"], groups, tuple(requirements))
    if problems:
        raise ValidationFailed(problems, "compliance frameworks catalog")
    return frameworks


@lru_cache(maxsize=1)
def load_tools() -> tuple[Tool, ...]:
    """The tooling map (``governance/tooling.yaml``), validated."""
    text = resources.files("secmlops_core.governance").joinpath("tooling.yaml").read_text(encoding="utf-8")
    controls, problems, tools = load_controls(), [], []
    for item in yaml.safe_load(text)["tools"]:
        if item["signal"].get("type") not in TOOL_SIGNALS:
            problems.append(f"tooling.yaml: {item['id']}: unknown signal {item['signal'].get('type')!r}")
        problems += [f"tooling.yaml: {item['id']}: unknown control {c!r}" for c in item["controls"] if c not in controls]
        tools.append(Tool(item["id"], item["name"], dict(item["signal"]), tuple(item["controls"])))
    if problems:
        raise ValidationFailed(problems, "tooling catalog")
    return tuple(tools)
