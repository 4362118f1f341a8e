"""The safe condition language of threat rules, and the stage/flow views it is tested on.

A rule says *where* it applies through a structured ``match:`` block; ConditionCompiler
turns it into a small tree of condition objects. Nothing is ever evaluated as code.

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

from dataclasses import dataclass, field

from secmlops_core.catalog.vocabulary import property_specs, stage_kinds

OPERATORS = ("equals", "not_equals", "in", "not_in")
MAX_CONDITION_DEPTH = 12


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


class ConditionCompiler:
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
