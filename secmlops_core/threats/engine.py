"""Pipeline graph -> threats: every rule tested on every stage or flow it may apply to.

Deterministic: the same pipeline and catalog always give the same threats in the same
order. A threat's id is a hash of its rule id and the element it sits on, so it survives
edits elsewhere in the pipeline (renaming, moving, adding stages) and register decisions
stay attached to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from secmlops_core.catalog.conditions import FlowView, StageView
from secmlops_core.catalog.model import Catalog, ThreatRule
from secmlops_core.catalog.vocabulary import property_specs
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.threats.risk import Risk, clamp


def threat_id(rule_id: str, element_type: str, element_id: str) -> str:
    """The stable id of the threat that ``rule_id`` raises on one element."""
    digest = hashlib.sha256(f"{rule_id}\x1f{element_type}\x1f{element_id}".encode("utf-8")).hexdigest()
    return f"TH-{digest[:12]}"


@dataclass(frozen=True)
class Threat:
    """One rule firing on one stage or flow, with the reasons and the inherent risk."""

    id: str
    rule: ThreatRule = field(repr=False, compare=False)
    element_type: str  # "stage" or "flow"
    element_id: str
    element_name: str
    stage_ids: tuple[str, ...]  # the stage, or both ends of the flow
    because: tuple[str, ...]
    adjustments: tuple[str, ...]
    risk: Risk
    crosses_boundary: bool = False
    suppressed_by: str | None = None

    @property
    def rule_id(self) -> str:
        """Id of the rule that raised the threat."""
        return self.rule.id

    @property
    def title(self) -> str:
        """The rule's title."""
        return self.rule.title

    @property
    def stride(self) -> str:
        """STRIDE letter of the rule."""
        return self.rule.stride


@dataclass(frozen=True)
class ThreatSet:
    """The threats of one pipeline: active ones and those suppressed by scope or assumption."""

    pipeline_id: str
    threats: tuple[Threat, ...]
    suppressed: tuple[Threat, ...]

    def by_id(self) -> dict[str, Threat]:
        """Active and suppressed threats by id."""
        return {t.id: t for t in (*self.threats, *self.suppressed)}


def build_views(pipeline: Pipeline) -> tuple[dict[str, StageView], dict[str, FlowView]]:
    """Stage and flow views with effective properties (catalog defaults filled in)."""
    specs = property_specs()
    stage_defaults = {name: spec.default for name, spec in specs["stage"].items()}
    flow_defaults = {name: spec.default for name, spec in specs["flow"].items()}
    zones = pipeline.zone_index()
    stages: dict[str, StageView] = {}
    for stage in pipeline.stages:
        zone = zones.get(stage.zone) if stage.zone else None
        stages[stage.id] = StageView(id=stage.id, kind=stage.kind, zone_trust=zone.trust if zone else None,
                                     props={**stage_defaults, **stage.properties},
                                     explicit=frozenset(stage.properties), zone=stage.zone)
    flows: dict[str, FlowView] = {}
    for flow in pipeline.flows:
        source, target = stages[flow.source], stages[flow.target]
        view = FlowView(id=flow.id, props={**flow_defaults, **flow.properties}, explicit=frozenset(flow.properties),
                        source=source, target=target, crosses_boundary=source.zone != target.zone)
        source.outgoing.append(view)
        target.incoming.append(view)
        flows[flow.id] = view
    return stages, flows


def _rules_by_key(rules: list[ThreatRule], attribute: str) -> tuple[dict[str, list[ThreatRule]], list[ThreatRule]]:
    indexed: dict[str, list[ThreatRule]] = {}
    unfiltered: list[ThreatRule] = []
    for rule in rules:
        keys = getattr(rule, attribute)
        if keys is None:
            unfiltered.append(rule)
        else:
            for key in keys:
                indexed.setdefault(key, []).append(rule)
    return indexed, unfiltered


def _score(rule: ThreatRule, view) -> tuple[Risk, tuple[str, ...]]:
    likelihood, impact = rule.likelihood, rule.impact
    notes = []
    for adjustment in rule.adjust:
        if adjustment.when.holds(view):
            likelihood += adjustment.likelihood
            impact += adjustment.impact
            changes = [f"{name} {delta:+d}" for name, delta in
                       (("likelihood", adjustment.likelihood), ("impact", adjustment.impact)) if delta]
            notes.append(f"{', '.join(changes) or 'no change'}: {adjustment.because}")
    return Risk(clamp(likelihood), clamp(impact)), tuple(notes)


def _suppression(catalog: Catalog, rule: ThreatRule, element_id: str, out_of_scope: str | None) -> str | None:
    if out_of_scope:
        return out_of_scope
    for assumption in catalog.assumptions:
        if rule.id in assumption.rules and (not assumption.elements or element_id in assumption.elements):
            return f"assumption {assumption.id}: {assumption.statement}"
    return None


def generate_threats(pipeline: Pipeline, catalog: Catalog) -> ThreatSet:
    """Apply every rule of the catalog to the pipeline's stages and flows."""
    stages, flows = build_views(pipeline)
    names = {stage.id: stage.name for stage in pipeline.stages}
    rules = sorted(catalog.rules.values(), key=lambda r: r.id)
    stage_index, stage_any = _rules_by_key([r for r in rules if r.applies_to == "stage"], "stage_kind_filter")
    flow_index, flow_any = _rules_by_key([r for r in rules if r.applies_to == "flow"], "data_kind_filter")
    active: list[Threat] = []
    suppressed: list[Threat] = []

    def emit(rule: ThreatRule, view, element_type: str, name: str, stage_ids, crosses: bool, out_of_scope):
        reasons: list[str] = []
        rule.match.reasons(view, reasons)
        risk, notes = _score(rule, view)
        reason = _suppression(catalog, rule, view.id, out_of_scope)
        threat = Threat(id=threat_id(rule.id, element_type, view.id), rule=rule, element_type=element_type,
                        element_id=view.id, element_name=name, stage_ids=stage_ids, because=tuple(reasons),
                        adjustments=notes, risk=risk, crosses_boundary=crosses, suppressed_by=reason)
        (suppressed if reason else active).append(threat)

    for stage_id, view in stages.items():
        out_of_scope = None if view.props["in_scope"] else f"out of scope: stage {stage_id}"
        for rule in (*stage_index.get(view.kind, ()), *stage_any):
            if rule.match.holds(view):
                emit(rule, view, "stage", names[stage_id], (stage_id,), False, out_of_scope)
    flow_names = {flow.id: flow.name or f"{names[flow.source]} -> {names[flow.target]}" for flow in pipeline.flows}
    for flow_id, view in flows.items():
        out_of_scope = None
        if not view.props["in_scope"]:
            out_of_scope = f"out of scope: flow {flow_id}"
        elif not (view.source.props["in_scope"] and view.target.props["in_scope"]):
            out_of_scope = f"out of scope: flow {flow_id} ends at an out-of-scope stage"
        for rule in (*flow_index.get(view.props["data_kind"], ()), *flow_any):
            if rule.match.holds(view):
                emit(rule, view, "flow", flow_names[flow_id], (view.source.id, view.target.id),
                     view.crosses_boundary, out_of_scope)

    def order(threat: Threat):
        return (-threat.risk.score, threat.rule.id, threat.element_type, threat.element_id)

    return ThreatSet(pipeline_id=pipeline.id, threats=tuple(sorted(active, key=order)),
                     suppressed=tuple(sorted(suppressed, key=order)))
