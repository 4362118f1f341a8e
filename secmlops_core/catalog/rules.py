"""The threat catalog as data: loading and validating threat rules, controls, roles, references.

Rules live in ``catalog/threat_rules/*.yaml`` (built in) and optionally in one user file.
A rule says *where* it applies through a structured ``match:`` block, compiled here into a
small tree of condition objects; nothing is ever evaluated as code.

Condition language (every key of a mapping must hold; keys may be combined):

Stage context (rules with ``applies_to: stage``, and inside ``source:``/``target:``)
  ``stage_kinds: [kind, ...]``          the stage's kind is one of these
  ``property: NAME`` + operator        a stage property (catalog default when unset)
  ``zone_trust: [low, medium, high]``  the trust level of the stage's zone
  ``incoming: {flow condition}``       at least one incoming flow matches
  ``outgoing: {flow condition}``       at least one outgoing flow matches
Flow context (rules with ``applies_to: flow``, and inside ``incoming:``/``outgoing:``)
  ``data_kinds: [kind, ...]``          the flow's ``data_kind`` is one of these
  ``source_kinds`` / ``target_kinds``  kind of the stage at either end
  ``crosses_boundary: true|false``     the ends are in different trust zones
  ``property: NAME`` + operator        a flow property
  ``source: {stage condition}`` / ``target: {stage condition}``
Either context
  ``all: [conditions]``, ``any: [conditions]``, ``not: condition``
Operators (exactly one next to ``property``): ``equals``, ``not_equals``, ``in``, ``not_in``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from secmlops_core.catalog.vocabulary import property_specs, stage_kinds
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.safe_text import parse_text

STRIDE = ("S", "T", "R", "I", "D", "E")
LIFECYCLE_STAGES = ("data_collection", "data_preparation", "model_training", "model_evaluation",
                    "model_deployment", "model_serving", "monitoring")
ELEMENT_TYPES = ("stage", "flow")
OPERATORS = ("equals", "not_equals", "in", "not_in")
MAX_USER_RULE_BYTES = 1024 * 1024
MAX_CONDITION_DEPTH = 12
ATLAS_ID = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

RULE_KEYS = {"id", "title", "stride", "applies_to", "match", "lifecycle", "description", "atlas",
             "owasp_ml", "nist", "likelihood", "impact", "adjust", "controls", "owner",
             "telemetry_signal", "demo"}
REQUIRED_RULE_KEYS = ("id", "title", "stride", "applies_to", "match", "lifecycle", "description",
                      "likelihood", "impact", "controls", "nist")
CONTROL_KEYS = {"id", "title", "description", "ptpgc", "owner", "reduces", "by"}
USER_FILE_KEYS = {"rules", "disable", "assumptions"}
ASSUMPTION_KEYS = {"id", "statement", "rules", "elements"}


# ----------------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class StageView:
    """A stage as the engine sees it: effective properties and its flows."""

    id: str
    kind: str
    zone_trust: str | None
    props: dict
    explicit: frozenset
    zone: str | None = None
    incoming: list = field(default_factory=list, compare=False, hash=False)
    outgoing: list = field(default_factory=list, compare=False, hash=False)


@dataclass(frozen=True)
class FlowView:
    """A flow as the engine sees it: effective properties, ends and boundary crossing."""

    id: str
    props: dict
    explicit: frozenset
    source: StageView
    target: StageView
    crosses_boundary: bool


class Condition:
    """A compiled condition; ``holds`` tests it, ``reasons`` says why it held."""

    def holds(self, view) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def reasons(self, view, out: list[str]) -> None:
        """Append human-readable facts that made this condition hold."""


@dataclass(frozen=True)
class _KindIn(Condition):
    kinds: frozenset
    end: str | None = None  # None: the stage itself; "source"/"target": a flow's end

    def holds(self, view) -> bool:
        stage = view if self.end is None else getattr(view, self.end)
        return stage.kind in self.kinds

    def reasons(self, view, out):
        stage = view if self.end is None else getattr(view, self.end)
        out.append(f"{self.end + ' ' if self.end else ''}kind is {stage.kind}")


@dataclass(frozen=True)
class _PropertyTest(Condition):
    name: str
    operator: str
    value: object

    def holds(self, view) -> bool:
        actual = view.props[self.name]
        if self.operator == "equals":
            return actual == self.value
        if self.operator == "not_equals":
            return actual != self.value
        if self.operator == "in":
            return actual in self.value
        return actual not in self.value

    def reasons(self, view, out):
        actual = view.props[self.name]
        shown = str(actual).lower() if isinstance(actual, bool) else str(actual)
        default = "" if self.name in view.explicit else " (default)"
        out.append(f"{self.name} = {shown}{default}")


@dataclass(frozen=True)
class _ZoneTrust(Condition):
    levels: frozenset

    def holds(self, view) -> bool:
        return view.zone_trust in self.levels

    def reasons(self, view, out):
        out.append(f"zone trust is {view.zone_trust or 'none'}")


@dataclass(frozen=True)
class _CrossesBoundary(Condition):
    expected: bool

    def holds(self, view) -> bool:
        return view.crosses_boundary == self.expected

    def reasons(self, view, out):
        out.append("crosses a trust boundary" if self.expected else "stays inside one trust zone")


@dataclass(frozen=True)
class _AtEnd(Condition):
    end: str
    inner: Condition

    def holds(self, view) -> bool:
        return self.inner.holds(getattr(view, self.end))

    def reasons(self, view, out):
        inner: list[str] = []
        self.inner.reasons(getattr(view, self.end), inner)
        out.extend(f"{self.end} {fact}" for fact in inner)


@dataclass(frozen=True)
class _Neighbour(Condition):
    direction: str  # "incoming" / "outgoing"
    inner: Condition

    def holds(self, view) -> bool:
        return any(self.inner.holds(flow) for flow in getattr(view, self.direction))

    def reasons(self, view, out):
        for flow in getattr(view, self.direction):
            if self.inner.holds(flow):
                inner: list[str] = []
                self.inner.reasons(flow, inner)
                out.append(f"{self.direction} flow {flow.id}: " + ", ".join(inner))
                return


@dataclass(frozen=True)
class _All(Condition):
    parts: tuple

    def holds(self, view) -> bool:
        return all(part.holds(view) for part in self.parts)

    def reasons(self, view, out):
        for part in self.parts:
            part.reasons(view, out)


@dataclass(frozen=True)
class _Any(Condition):
    parts: tuple

    def holds(self, view) -> bool:
        return any(part.holds(view) for part in self.parts)

    def reasons(self, view, out):
        for part in self.parts:
            if part.holds(view):
                part.reasons(view, out)
                return


@dataclass(frozen=True)
class _Not(Condition):
    inner: Condition
    text: str

    def holds(self, view) -> bool:
        return not self.inner.holds(view)

    def reasons(self, view, out):
        out.append(f"not ({self.text})")


class _Compiler:
    """Turns raw ``match:`` mappings into Condition trees, collecting problems."""

    STAGE_KEYS = {"stage_kinds", "property", *OPERATORS, "zone_trust", "incoming", "outgoing",
                  "all", "any", "not"}
    FLOW_KEYS = {"data_kinds", "source_kinds", "target_kinds", "crosses_boundary", "property",
                 *OPERATORS, "source", "target", "all", "any", "not"}

    def __init__(self, problems: list[str]):
        self.problems = problems
        self.kinds = stage_kinds()
        self.specs = property_specs()

    def compile(self, raw, context: str, where: str, depth: int = 0) -> Condition | None:
        if depth > MAX_CONDITION_DEPTH:
            self.problems.append(f"{where}: conditions are nested more than {MAX_CONDITION_DEPTH} deep")
            return None
        if not isinstance(raw, dict) or not raw:
            self.problems.append(f"{where}: a condition must be a non-empty mapping")
            return None
        allowed = self.STAGE_KEYS if context == "stage" else self.FLOW_KEYS
        for key in raw:
            if key not in allowed:
                self.problems.append(f"{where}: unknown condition {str(key)[:60]!r} for a {context}"
                                     f" (allowed: {', '.join(sorted(allowed))})")
        parts: list[Condition | None] = []
        if "stage_kinds" in raw and context == "stage":
            parts.append(self._kinds(raw["stage_kinds"], None, f"{where}.stage_kinds"))
        for end in ("source", "target"):
            if f"{end}_kinds" in raw and context == "flow":
                parts.append(self._kinds(raw[f"{end}_kinds"], end, f"{where}.{end}_kinds"))
        if "data_kinds" in raw and context == "flow":
            values = self._enum_list(raw["data_kinds"], self.specs["flow"]["data_kind"].values,
                                     f"{where}.data_kinds", "data kind")
            parts.append(_PropertyTest("data_kind", "in", frozenset(values)) if values else None)
        if "crosses_boundary" in raw and context == "flow":
            if isinstance(raw["crosses_boundary"], bool):
                parts.append(_CrossesBoundary(raw["crosses_boundary"]))
            else:
                self.problems.append(f"{where}.crosses_boundary: must be true or false")
        if "zone_trust" in raw and context == "stage":
            values = self._enum_list(raw["zone_trust"], ("low", "medium", "high"), f"{where}.zone_trust",
                                     "trust level")
            parts.append(_ZoneTrust(frozenset(values)) if values else None)
        if "property" in raw or any(op in raw for op in OPERATORS):
            parts.append(self._property(raw, context, where))
        for end in ("source", "target"):
            if end in raw and context == "flow":
                inner = self.compile(raw[end], "stage", f"{where}.{end}", depth + 1)
                parts.append(_AtEnd(end, inner) if inner else None)
        for direction in ("incoming", "outgoing"):
            if direction in raw and context == "stage":
                inner = self.compile(raw[direction], "flow", f"{where}.{direction}", depth + 1)
                parts.append(_Neighbour(direction, inner) if inner else None)
        for combinator, cls in (("all", _All), ("any", _Any)):
            if combinator in raw:
                items = raw[combinator]
                if not isinstance(items, list) or not items:
                    self.problems.append(f"{where}.{combinator}: must be a non-empty list of conditions")
                    parts.append(None)
                    continue
                compiled = [self.compile(item, context, f"{where}.{combinator}[{i}]", depth + 1)
                            for i, item in enumerate(items)]
                parts.append(cls(tuple(compiled)) if all(compiled) else None)
        if "not" in raw:
            inner = self.compile(raw["not"], context, f"{where}.not", depth + 1)
            parts.append(_Not(inner, describe_match(raw["not"])) if inner else None)
        if not parts or not all(parts):
            return None
        return parts[0] if len(parts) == 1 else _All(tuple(parts))

    def _kinds(self, raw, end, where) -> Condition | None:
        values = self._enum_list(raw, tuple(self.kinds), where, "stage kind")
        return _KindIn(frozenset(values), end) if values else None

    def _enum_list(self, raw, allowed, where, what) -> list:
        if not isinstance(raw, list) or not raw:
            self.problems.append(f"{where}: must be a non-empty list")
            return []
        unknown = [v for v in raw if v not in allowed]
        for value in unknown:
            self.problems.append(f"{where}: unknown {what} {str(value)[:60]!r} (known: {', '.join(allowed)})")
        return [] if unknown else list(raw)

    def _property(self, raw, context, where) -> Condition | None:
        name = raw.get("property")
        spec = self.specs[context].get(name) if isinstance(name, str) else None
        if spec is None:
            self.problems.append(f"{where}.property: unknown {context} property {str(name)[:60]!r}"
                                 f" (known: {', '.join(self.specs[context])})")
            return None
        operators = [op for op in OPERATORS if op in raw]
        if len(operators) != 1:
            self.problems.append(f"{where}: property {name!r} needs exactly one of {', '.join(OPERATORS)}")
            return None
        operator = operators[0]
        value = raw[operator]
        values = value if operator in ("in", "not_in") else [value]
        if operator in ("in", "not_in") and (not isinstance(value, list) or not value):
            self.problems.append(f"{where}.{operator}: must be a non-empty list")
            return None
        for item in values:
            error = spec.check(item)
            if error:
                self.problems.append(f"{where}.{operator}: value for {name!r} {error}")
                return None
        return _PropertyTest(name, operator, frozenset(values) if operator in ("in", "not_in") else value)


def tested_properties(condition: Condition, context: str) -> set[tuple[str, str]]:
    """Every (context, property name) a compiled condition tests; context is stage or flow."""
    found: set[tuple[str, str]] = set()

    def walk(node, here):
        if isinstance(node, _PropertyTest):
            found.add((here, node.name))
        elif isinstance(node, _AtEnd):
            walk(node.inner, "stage")
        elif isinstance(node, _Neighbour):
            walk(node.inner, "flow")
        elif isinstance(node, (_All, _Any)):
            for part in node.parts:
                walk(part, here)
        elif isinstance(node, _Not):
            walk(node.inner, here)

    walk(condition, context)
    return found


def describe_match(raw) -> str:
    """A compact one-line rendering of a raw match block (for explanations and reports)."""
    if not isinstance(raw, dict):
        return str(raw)
    parts = []
    for key, value in raw.items():
        if key in OPERATORS:
            continue
        if key == "property":
            operator = next((op for op in OPERATORS if op in raw), "equals")
            shown = raw.get(operator)
            shown = str(shown).lower() if isinstance(shown, bool) else shown
            parts.append(f"{value} {operator.replace('_', ' ')} {shown}")
        elif key in ("all", "any") and isinstance(value, list):
            parts.append(f"{key}(" + "; ".join(describe_match(v) for v in value) + ")")
        elif key in ("not", "source", "target", "incoming", "outgoing"):
            parts.append(f"{key}(" + describe_match(value) + ")")
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value).lower()
            parts.append(f"{key}: {shown}")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- catalog model
@dataclass(frozen=True)
class Role:
    """One of the eight security roles."""

    id: str
    name: str
    responsibility: str


@dataclass(frozen=True)
class Control:
    """A security control with its PTPGC component, owner role and risk effect."""

    id: str
    title: str
    description: str
    ptpgc: str
    owner: str
    reduces: str  # "likelihood" or "impact"
    by: int = 1


@dataclass(frozen=True)
class Adjustment:
    """A rule-specific change of likelihood/impact when a condition holds."""

    when: Condition
    likelihood: int
    impact: int
    because: str


@dataclass(frozen=True)
class ThreatRule:
    """One threat rule: where it applies, what it means, how risky, what to do."""

    id: str
    title: str
    stride: str
    applies_to: str
    match: Condition
    match_text: str
    lifecycle: str
    description: str
    likelihood: int
    impact: int
    controls: tuple[str, ...]
    owner: str
    nist_attack: str | None
    nist_objective: str
    atlas: tuple[str, ...] = ()
    owasp_ml: tuple[str, ...] = ()
    adjust: tuple[Adjustment, ...] = ()
    telemetry_signal: str | None = None
    demo: str | None = None
    source: str = "built-in"
    stage_kind_filter: frozenset | None = None
    data_kind_filter: frozenset | None = None


@dataclass(frozen=True)
class Assumption:
    """An accepted assumption that suppresses some rules on some (or all) elements."""

    id: str
    statement: str
    rules: frozenset
    elements: frozenset  # empty: every element


@dataclass(frozen=True)
class References:
    """Names of the framework ids that rules cite."""

    owasp_ml: dict
    nist_attack_classes: dict
    nist_objectives: dict
    stride: dict
    ptpgc: dict
    telemetry_signals: dict
    attack_demos: dict
    atlas: dict


@dataclass(frozen=True)
class Catalog:
    """Rules (built-in plus user), controls, roles, references and assumptions."""

    rules: dict[str, ThreatRule]
    controls: dict[str, Control]
    roles: dict[str, Role]
    references: References
    assumptions: tuple[Assumption, ...] = ()
    user_source: str | None = None

    def owner_name(self, role_id: str) -> str:
        """Display name of a role id (the id itself when unknown)."""
        role = self.roles.get(role_id)
        return role.name if role else role_id


# ----------------------------------------------------------------------------- loading
def _catalog_text(relative: str) -> str:
    return resources.files("secmlops_core.catalog").joinpath(relative).read_text(encoding="utf-8")


def _safe_yaml(text: str, source: str):
    try:
        return parse_text(text, "yaml", source, MAX_USER_RULE_BYTES)
    except ValidationFailed as exc:
        problems = [p if p.startswith(source) else f"{source}: {p}" for p in exc.problems]
        raise ValidationFailed(problems, source) from None


@lru_cache(maxsize=1)
def load_roles() -> dict[str, Role]:
    """The eight security roles by id."""
    return {entry["id"]: Role(**entry) for entry in yaml.safe_load(_catalog_text("roles.yaml"))["roles"]}


@lru_cache(maxsize=1)
def load_references() -> References:
    """OWASP ML Top 10, NIST AI 100-2, STRIDE, PTPGC, ATLAS names and signal/demo ids."""
    raw = yaml.safe_load(_catalog_text("references.yaml"))
    nist = raw["nist_ai_100_2"]
    return References(owasp_ml=raw["owasp_ml_top10_2023"], nist_attack_classes=nist["attack_classes"],
                      nist_objectives=nist["objectives"], stride=raw["stride"], ptpgc=raw["ptpgc"],
                      telemetry_signals=raw["telemetry_signals"], attack_demos=raw["attack_demos"],
                      atlas=raw["atlas_techniques"])


@lru_cache(maxsize=1)
def load_controls() -> dict[str, Control]:
    """All controls by id, validated against roles and PTPGC components."""
    problems: list[str] = []
    controls: dict[str, Control] = {}
    roles, refs = load_roles(), load_references()
    for index, entry in enumerate(yaml.safe_load(_catalog_text("controls.yaml"))["controls"]):
        where = f"controls.yaml: control #{index + 1} ({entry.get('id', '?')})"
        unknown = set(entry) - CONTROL_KEYS
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if entry.get("owner") not in roles:
            problems.append(f"{where}: owner {entry.get('owner')!r} is not a role id")
        if entry.get("ptpgc") not in refs.ptpgc:
            problems.append(f"{where}: ptpgc {entry.get('ptpgc')!r} is not one of {', '.join(refs.ptpgc)}")
        if entry.get("reduces") not in ("likelihood", "impact"):
            problems.append(f"{where}: reduces must be likelihood or impact")
        if entry.get("id") in controls:
            problems.append(f"{where}: duplicate control id")
        if not problems:
            controls[entry["id"]] = Control(**entry)
    if problems:
        raise ValidationFailed(problems, "built-in controls catalog")
    return controls


def builtin_rule_files() -> list[tuple[str, str]]:
    """(file name, text) of every built-in rule file, in name order."""
    folder = resources.files("secmlops_core.catalog").joinpath("threat_rules")
    return sorted((entry.name, entry.read_text(encoding="utf-8"))
                  for entry in folder.iterdir() if entry.name.endswith(".yaml"))


class _RuleParser:
    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        self.compiler = _Compiler(problems)
        self.refs = load_references()
        self.controls = load_controls()
        self.roles = load_roles()

    def parse(self, entry, index: int) -> ThreatRule | None:
        before = len(self.problems)
        if not isinstance(entry, dict):
            self.problems.append(f"{self.source}: rule #{index + 1}: must be a mapping")
            return None
        rule_id = entry.get("id")
        label = f"rule '{rule_id}'" if isinstance(rule_id, str) else f"rule #{index + 1}"
        where = f"{self.source}: {label}"
        add = self.problems.append
        if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            add(f"{where}: 'id' must be 1-64 letters, digits, '_', '.' or '-'")
        for key in entry:
            if key not in RULE_KEYS:
                add(f"{where}: unknown field {str(key)[:60]!r} (allowed: {', '.join(sorted(RULE_KEYS))})")
        for key in REQUIRED_RULE_KEYS:
            if key not in entry:
                add(f"{where}: '{key}' is missing")
        for key in ("title", "description"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                add(f"{where}.{key}: must be non-empty text")
        if "stride" in entry and entry["stride"] not in STRIDE:
            add(f"{where}.stride: must be one of {', '.join(STRIDE)}")
        applies_to = entry.get("applies_to")
        if "applies_to" in entry and applies_to not in ELEMENT_TYPES:
            add(f"{where}.applies_to: must be stage or flow")
        if "lifecycle" in entry and entry["lifecycle"] not in LIFECYCLE_STAGES:
            add(f"{where}.lifecycle: must be one of {', '.join(LIFECYCLE_STAGES)}")
        for key in ("likelihood", "impact"):
            value = entry.get(key)
            if key in entry and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5):
                add(f"{where}.{key}: must be a whole number from 1 to 5")
        atlas = self._id_list(entry, "atlas", self.refs.atlas, where, "MITRE ATLAS technique")
        owasp = self._id_list(entry, "owasp_ml", self.refs.owasp_ml, where, "OWASP ML Top 10 id")
        controls = self._id_list(entry, "controls", self.controls, where, "control")
        if "controls" in entry and not controls:
            add(f"{where}.controls: at least one control is required")
        nist_attack, nist_objective = self._nist(entry.get("nist"), where)
        owner = entry.get("owner")
        if owner is not None and owner not in self.roles:
            add(f"{where}.owner: unknown role {str(owner)[:60]!r} (known: {', '.join(self.roles)})")
        for key, known in (("telemetry_signal", self.refs.telemetry_signals), ("demo", self.refs.attack_demos)):
            if entry.get(key) is not None and entry[key] not in known:
                add(f"{where}.{key}: unknown {key.replace('_', ' ')} {str(entry[key])[:60]!r}"
                    f" (known: {', '.join(known)})")
        match = None
        if applies_to in ELEMENT_TYPES and "match" in entry:
            match = self.compiler.compile(entry["match"], applies_to, f"{where}.match")
        adjust = self._adjustments(entry.get("adjust"), applies_to, where)
        if len(self.problems) > before or match is None:
            return None
        raw_match = entry["match"]
        return ThreatRule(
            id=rule_id, title=entry["title"].strip(), stride=entry["stride"], applies_to=applies_to,
            match=match, match_text=describe_match(raw_match), lifecycle=entry["lifecycle"],
            description=" ".join(entry["description"].split()), likelihood=entry["likelihood"],
            impact=entry["impact"], controls=tuple(controls), owner=owner or self.controls[controls[0]].owner,
            nist_attack=nist_attack, nist_objective=nist_objective, atlas=tuple(atlas), owasp_ml=tuple(owasp),
            adjust=adjust, telemetry_signal=entry.get("telemetry_signal"), demo=entry.get("demo"),
            source=self.source,
            stage_kind_filter=frozenset(raw_match["stage_kinds"]) if applies_to == "stage"
            and "stage_kinds" in raw_match else None,
            data_kind_filter=frozenset(raw_match["data_kinds"]) if applies_to == "flow"
            and "data_kinds" in raw_match else None)

    def _id_list(self, entry, key, known, where, what) -> list[str]:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problems.append(f"{where}.{key}: must be a list of ids")
            return []
        for item in value:
            if key == "atlas" and not ATLAS_ID.match(item):
                self.problems.append(f"{where}.atlas: {item[:60]!r} is not an ATLAS technique id (AML.Tnnnn)")
            elif item not in known:
                self.problems.append(f"{where}.{key}: unknown {what} {item[:60]!r}")
        if len(set(value)) != len(value):
            self.problems.append(f"{where}.{key}: lists an id twice")
        return [v for v in value if v in known]

    def _nist(self, raw, where) -> tuple[str | None, str]:
        if raw is None:
            return None, ""
        if not isinstance(raw, dict) or set(raw) - {"attack", "objective"} or "objective" not in raw:
            self.problems.append(f"{where}.nist: must be {{objective: ..., attack: ...}} (attack optional)")
            return None, ""
        if raw["objective"] not in self.refs.nist_objectives:
            self.problems.append(f"{where}.nist.objective: must be one of {', '.join(self.refs.nist_objectives)}")
        attack = raw.get("attack")
        if attack is not None and attack not in self.refs.nist_attack_classes:
            self.problems.append(f"{where}.nist.attack: must be one of {', '.join(self.refs.nist_attack_classes)}")
        return attack, raw["objective"]

    def _adjustments(self, raw, applies_to, where) -> tuple[Adjustment, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problems.append(f"{where}.adjust: must be a list")
            return ()
        found = []
        for index, item in enumerate(raw):
            here = f"{where}.adjust[{index}]"
            if not isinstance(item, dict) or "when" not in item or set(item) - {"when", "likelihood", "impact", "because"}:
                self.problems.append(f"{here}: must be {{when: condition, likelihood: +-n, impact: +-n, because: text}}")
                continue
            deltas = [item.get(k, 0) for k in ("likelihood", "impact")]
            if not all(isinstance(d, int) and not isinstance(d, bool) and -4 <= d <= 4 for d in deltas):
                self.problems.append(f"{here}: likelihood/impact changes must be whole numbers from -4 to 4")
                continue
            if applies_to not in ELEMENT_TYPES:
                continue
            when = self.compiler.compile(item["when"], applies_to, f"{here}.when")
            if when:
                found.append(Adjustment(when, deltas[0], deltas[1],
                                        str(item.get("because") or describe_match(item["when"]))))
        return tuple(found)


def parse_rules(document, source: str, problems: list[str]) -> list[ThreatRule]:
    """Rules from one parsed rule file (``{rules: [...]}``); problems are appended."""
    if not isinstance(document, dict) or not isinstance(document.get("rules", []), list):
        problems.append(f"{source}: the file must be a mapping with a 'rules' list")
        return []
    parser = _RuleParser(source, problems)
    rules = []
    seen: set[str] = set()
    for index, entry in enumerate(document.get("rules") or []):
        rule = parser.parse(entry, index)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(f"{source}: rule '{rule.id}': id is used more than once")
        seen.add(rule.id)
        rules.append(rule)
    return rules


@lru_cache(maxsize=1)
def builtin_rules() -> dict[str, ThreatRule]:
    """All built-in rules by id (validated; a broken built-in catalog is a programming error)."""
    problems: list[str] = []
    rules: dict[str, ThreatRule] = {}
    for name, text in builtin_rule_files():
        document = yaml.safe_load(text)
        for rule in parse_rules(document, f"threat_rules/{name}", problems):
            if rule.id in rules:
                problems.append(f"threat_rules/{name}: rule '{rule.id}' is also defined in {rules[rule.id].source}")
            rules[rule.id] = rule
    if problems:
        raise ValidationFailed(problems, "built-in threat catalog")
    return rules


def _parse_assumptions(raw, source: str, problems: list[str]) -> list[Assumption]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{source}: 'assumptions' must be a list")
        return []
    found = []
    for index, item in enumerate(raw):
        where = f"{source}: assumption #{index + 1}"
        if not isinstance(item, dict) or set(item) - ASSUMPTION_KEYS or not item.get("id") \
                or not isinstance(item.get("statement"), str):
            problems.append(f"{where}: must have 'id' and 'statement', optional 'rules' and 'elements' lists"
                            f" (allowed fields: {', '.join(sorted(ASSUMPTION_KEYS))})")
            continue
        lists = [item.get(key, []) for key in ("rules", "elements")]
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists):
            problems.append(f"{where}: 'rules' and 'elements' must be lists of ids")
            continue
        if not lists[0]:
            problems.append(f"{where}: 'rules' must name at least one rule id")
            continue
        found.append(Assumption(str(item["id"]), item["statement"], frozenset(lists[0]), frozenset(lists[1])))
    return found


def load_catalog(user_rules: Path | str | None = None, user_text: str | None = None,
                 source_name: str | None = None) -> Catalog:
    """The built-in catalog, plus a user rule file when given (by path or as text).

    A user file may add rules, replace built-in rules (same id), ``disable`` built-in rules,
    and state ``assumptions`` that suppress rules. Any problem raises ValidationFailed
    naming the file, rule and field; callers then keep using the built-in catalog.
    """
    rules = dict(builtin_rules())
    base = Catalog(rules=rules, controls=load_controls(), roles=load_roles(), references=load_references())
    if user_rules is None and user_text is None:
        return base
    source = source_name or (Path(user_rules).name if user_rules is not None else "user rules")
    if user_text is None:
        try:
            user_text = Path(user_rules).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserFacingError(f"{user_rules}: no such rule file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserFacingError(f"{user_rules}: cannot read rule file ({exc})") from None
    document = _safe_yaml(user_text, source)
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ValidationFailed([f"{source}: the file must be a mapping with 'rules', 'disable' or 'assumptions'"],
                               source)
    for key in document:
        if key not in USER_FILE_KEYS:
            problems.append(f"{source}: unknown top-level field {str(key)[:60]!r}"
                            f" (allowed: {', '.join(sorted(USER_FILE_KEYS))})")
    user = parse_rules({"rules": document.get("rules") or []}, source, problems)
    disabled = document.get("disable") or []
    if not isinstance(disabled, list):
        problems.append(f"{source}: 'disable' must be a list of rule ids")
        disabled = []
    for rule_id in disabled:
        if rule_id not in rules:
            problems.append(f"{source}: disable: unknown rule id {str(rule_id)[:60]!r}")
    assumptions = _parse_assumptions(document.get("assumptions"), source, problems)
    known_ids = set(rules) | {rule.id for rule in user}
    for assumption in assumptions:
        for rule_id in sorted(assumption.rules - known_ids):
            problems.append(f"{source}: assumption '{assumption.id}': unknown rule id {rule_id[:60]!r}")
    if problems:
        raise ValidationFailed(problems, source)
    for rule_id in disabled:
        rules.pop(rule_id, None)
    rules.update({rule.id: rule for rule in user})
    return Catalog(rules=rules, controls=base.controls, roles=base.roles, references=base.references,
                   assumptions=tuple(assumptions), user_source=source)

