"""Loading the threat catalog: the built-in YAML data files, the rule parser, user rule files.

Rules live in ``catalog/threat_rules/*.yaml`` (built in) and optionally in one user file,
read with the safe text parser (size limit, no YAML aliases). A user file may add, replace
or disable rules and state assumptions; load_catalog merges it over the built-in catalog.
The ``match:`` blocks are compiled by :mod:`secmlops_core.catalog.conditions`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from secmlops_core.catalog.conditions import ConditionCompiler, describe_match
from secmlops_core.catalog.model import (
    ELEMENT_TYPES,
    LIFECYCLE_STAGES,
    STRIDE,
    Adjustment,
    Assumption,
    Catalog,
    Control,
    References,
    Role,
    ThreatRule,
)
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.safe_text import parse_text

MAX_USER_RULE_BYTES = 1024 * 1024
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
        self.compiler = ConditionCompiler(problems)
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
