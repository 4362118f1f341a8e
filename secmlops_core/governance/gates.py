"""Processes: lifecycle security gates evaluated from the product's own evidence.

Each criterion of ``catalog/gates.yaml`` is one check over the inputs gathered in
:class:`GateInputs` (threat register, control status, RACI, evidence, the weights registry,
the pipeline's properties). A criterion is ``pass``, ``fail`` or ``no_evidence``; missing
evidence is never a pass. Reports are recorded as evidence of kind ``gate_result``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from secmlops_core.evidence import Evidence, add_evidence
from secmlops_core.governance.definitions import Criterion, GateCheck, GateDef, load_gates
from secmlops_core.governance.history import editor, record_change
from secmlops_core.governance.people import Gap
from secmlops_core.governance.technology import WeightsCheck
from secmlops_core.pipeline.model import Pipeline, effective_property
from secmlops_core.store import Store
from secmlops_core.threats.assessment import Assessment
from secmlops_core.threats.risk import band_at_least

PASS, FAIL, NO_EVIDENCE = "pass", "fail", "no_evidence"
STATUS_LABELS = {PASS: "pass", FAIL: "fail", NO_EVIDENCE: "no evidence"}
SEVERITIES = ("low", "medium", "high", "critical")
CONTROL_DONE = ("implemented", "not_applicable")


@dataclass(frozen=True)
class GateInputs:
    """Everything a gate may look at, gathered once per evaluation."""

    pipeline: Pipeline
    pipeline_version: int | None
    pipeline_sha256: str
    assessment: Assessment
    register_generation: int
    register_present: frozenset
    gaps_for: object  # callable(min_band) -> list[Gap]
    evidence: tuple[Evidence, ...]
    weights: WeightsCheck
    approvals: tuple  # provenance.Approval records
    incidents: tuple = ()  # active monitoring incidents in scope
    live_detector: bool = True  # the pipeline deploys the studio's live detector
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one criterion, with the evidence ids it rests on."""

    criterion: Criterion
    status: str
    detail: str
    evidence_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate: pass only when every criterion passes."""

    gate: GateDef
    status: str
    criteria: tuple[CriterionResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Criteria per status."""
        return {s: sum(1 for c in self.criteria if c.status == s) for s in (PASS, FAIL, NO_EVIDENCE)}


@dataclass(frozen=True)
class GateReport:
    """All gates of one pipeline version."""

    pipeline_id: str
    pipeline_version: int | None
    pipeline_sha256: str
    evaluated_at: datetime
    gates: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        """True only when every gate passed."""
        return all(g.status == PASS for g in self.gates)

    def counts(self) -> dict[str, int]:
        """Gates per status."""
        return {s: sum(1 for g in self.gates if g.status == s) for s in (PASS, FAIL, NO_EVIDENCE)}

    def to_dict(self) -> dict:
        """JSON-ready form (used by ``secmlops gates --json``, the audit pack and recorded evidence)."""
        return {"pipeline_id": self.pipeline_id, "pipeline_version": self.pipeline_version,
                "pipeline_sha256": self.pipeline_sha256, "evaluated_at": self.evaluated_at.isoformat(),
                "passed": self.passed, "counts": self.counts(),
                "gates": [gate_dict(g) for g in self.gates]}


def gate_dict(result: GateResult) -> dict:
    """One gate result as a dict."""
    return {"id": result.gate.id, "title": result.gate.title, "status": result.status,
            "owner": result.gate.owner, "lifecycle": list(result.gate.lifecycle),
            "criteria": [{"id": c.criterion.id, "title": c.criterion.title, "status": c.status, "detail": c.detail,
                          "check": c.criterion.check.as_dict(), "evidence": list(c.evidence_ids)} for c in result.criteria]}


# ----------------------------------------------------------------------------- checks
def _recent(inputs: GateInputs, kind: str, max_age_days) -> tuple[list[Evidence], list[Evidence]]:
    """(all evidence of a kind, those within the age limit), newest first."""
    found = [e for e in inputs.evidence if e.kind == kind]
    if not max_age_days:
        return found, found
    cutoff = inputs.now - timedelta(days=float(max_age_days))
    return found, [e for e in found if e.created_at is None or e.created_at >= cutoff]


def verdict(evidence: Evidence) -> bool | None:
    """Whether evidence shows a pass (True), a failure (False), or says neither (None)."""
    if evidence.outcome in (PASS, FAIL):
        return evidence.outcome == PASS
    metrics = evidence.metrics
    if isinstance(metrics.get("gate_passed"), bool):
        return metrics["gate_passed"]
    if isinstance(metrics.get("drift_detected"), bool):
        return not metrics["drift_detected"]
    return None


def _check_register(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if inputs.register_generation:
        return PASS, f"register generation {inputs.register_generation}", ()
    return NO_EVIDENCE, "no threat model stored for this pipeline (open it on the Threats page)", ()


def _check_current(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if not inputs.register_generation:
        return NO_EVIDENCE, "no threat model stored for this pipeline", ()
    generated = {t.id for t in inputs.assessment.threats}
    missing, stale = generated - inputs.register_present, inputs.register_present - generated
    if not missing and not stale:
        return PASS, f"the register holds exactly this version's {len(generated)} threats", ()
    return FAIL, (f"register out of date for this version: {len(missing)} threat(s) not reviewed, "
                  f"{len(stale)} no longer raised; regenerate on the Threats page"), ()


def _check_open_threats(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if not inputs.register_generation:
        return NO_EVIDENCE, "no threat register decisions for this pipeline", ()
    phases = set(check.lifecycle)
    worse = [t for t in inputs.assessment.open_threats()
             if (not phases or t.threat.rule.lifecycle in phases)
             and band_at_least(t.residual_risk.band, check.max_band) and t.residual_risk.band != check.max_band]
    if not worse:
        return PASS, f"no open threat above {check.max_band}", ()
    sample = "; ".join(f"{t.threat.rule.id} on {t.threat.element_id} ({t.residual_risk.band})" for t in worse[:3])
    return FAIL, f"{len(worse)} open threat(s) above {check.max_band}: {sample}", ()


def _check_accountability(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if not inputs.register_generation:
        return NO_EVIDENCE, "no threat register for this pipeline", ()
    gaps: list[Gap] = [g for g in inputs.gaps_for(check.min_band) if g.kind == "threat"]
    if not gaps:
        return PASS, f"every open threat at {check.min_band} or above has an accountable role", ()
    return FAIL, f"{len(gaps)} open threat(s) without an accountable role: {gaps[0].message}", ()


def _check_stage_property(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    stages = [s for s in inputs.pipeline.stages if s.kind in check.kinds]
    if not stages:
        return NO_EVIDENCE, f"the pipeline has no stage of kind {', '.join(check.kinds)}", ()
    wrong = [s.name for s in stages if effective_property(s, check.property) != check.equals]
    if wrong:
        return FAIL, f"{check.property} is not {check.equals} on: {', '.join(wrong)}", ()
    return PASS, f"{check.property} = {check.equals} on {', '.join(s.name for s in stages)}", ()


def _check_flow_property(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    flows = [f for f in inputs.pipeline.flows if effective_property(f, "data_kind") in check.data_kinds]
    if not flows:
        return NO_EVIDENCE, f"no flow carries {', '.join(check.data_kinds)}", ()
    wrong = [f.name or f.id for f in flows if effective_property(f, check.property) != check.equals]
    if wrong:
        return FAIL, f"{check.property} is not {check.equals} on flow(s): {', '.join(wrong)}", ()
    return PASS, f"{check.property} = {check.equals} on {len(flows)} flow(s)", ()


def _check_controls(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    states = inputs.assessment.control_status
    missing = [f"{c} ({states[c].status if c in states else 'not_started'})" for c in check.ids
               if (states[c].status if c in states else "not_started") not in CONTROL_DONE]
    if missing:
        return FAIL, f"not implemented: {', '.join(missing)}", ()
    return PASS, f"implemented: {', '.join(check.ids)}", ()


def _check_evidence(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    found, recent = _recent(inputs, check.kind, check.max_age_days)
    label = check.kind.replace("_", " ")
    if not recent:
        why = f"the newest {label} is older than {check.max_age_days} days" if found else f"no {label} recorded"
        return NO_EVIDENCE, why, tuple(e.evidence_id for e in found[:1])
    latest = recent[0]
    result = verdict(latest)
    if result is None:
        return NO_EVIDENCE, f"the newest {label} states no outcome: {latest.summary[:120]}", (latest.evidence_id,)
    return (PASS if result else FAIL), f"newest {label} ({latest.created_at:%Y-%m-%d}): {latest.summary[:160]}", \
        (latest.evidence_id,)


def _check_evidence_exists(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    found, recent = _recent(inputs, check.kind, check.max_age_days)
    label = check.kind.replace("_", " ")
    if recent:
        return PASS, f"{len(recent)} {label}(s) recorded", tuple(e.evidence_id for e in recent[:5])
    return NO_EVIDENCE, f"no recent {label} recorded", ()


def _check_provenance(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    records = [e for e in inputs.evidence if e.kind == "provenance" and e.metrics.get("artifact") == check.artifact
               and e.metrics.get("action") == "hash"]
    if not records:
        return NO_EVIDENCE, f"no {check.artifact} hash recorded for this pipeline", ()
    return PASS, f"{len(records)} {check.artifact} hash record(s), newest {records[0].metrics.get('name', '')}", \
        tuple(e.evidence_id for e in records[:5])


def _not_live(inputs) -> tuple:
    return NO_EVIDENCE, "this pipeline is not linked to the studio's live detector (see Provenance)", ()


def _check_weights(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if not inputs.live_detector:
        return _not_live(inputs)
    weights = inputs.weights
    status = NO_EVIDENCE if weights.verified is None else PASS if weights.verified else FAIL
    return status, f"{weights.weights_id}: {weights.detail}", ()


def _check_approval(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if not inputs.live_detector:
        return _not_live(inputs)
    sha = inputs.weights.pinned_sha256
    if not inputs.approvals:
        return NO_EVIDENCE, "no approval or promotion recorded", ()
    matching = [a for a in inputs.approvals if a.sha256 == sha]
    if matching:
        latest = matching[0]
        return PASS, f"approved by {latest.approved_by} on {latest.approved_at:%Y-%m-%d}", \
            tuple(a.evidence_id for a in matching if a.evidence_id)
    return FAIL, f"approvals exist, but none for the deployed weights (SHA-256 {str(sha)[:12]}...)", ()


def _check_incidents(inputs: GateInputs, check: GateCheck) -> tuple[str, str, tuple]:
    if not inputs.incidents and not any(e.kind in ("drift_snapshot", "incident") for e in inputs.evidence):
        return NO_EVIDENCE, "no monitoring evidence (drift snapshots or incidents) for this pipeline", ()
    allowed = SEVERITIES[:SEVERITIES.index(check.max_open_severity) + 1]
    worse = [i for i in inputs.incidents if str(i.severity).lower() not in ("info", *allowed)]
    if worse:
        return FAIL, (f"{len(worse)} active incident(s) above {check.max_open_severity}: "
                      f"{worse[0].title[:100]} ({worse[0].severity}, {worse[0].status})"), ()
    return PASS, f"{len(inputs.incidents)} active incident(s), none above {check.max_open_severity}", ()


CHECKS = {
    "register_generated": _check_register, "threat_model_current": _check_current,
    "open_threats": _check_open_threats, "accountability": _check_accountability,
    "stage_property": _check_stage_property, "flow_property": _check_flow_property, "controls": _check_controls,
    "evidence": _check_evidence, "evidence_exists": _check_evidence_exists, "provenance": _check_provenance,
    "weights_verified": _check_weights, "approval": _check_approval, "incidents": _check_incidents,
}


def evaluate_gate(gate: GateDef, inputs: GateInputs) -> GateResult:
    """Evaluate every criterion of one gate."""
    results = []
    for criterion in gate.criteria:
        status, detail, evidence_ids = CHECKS[criterion.check.type](inputs, criterion.check)
        results.append(CriterionResult(criterion, status, detail, tuple(evidence_ids)))
    statuses = {r.status for r in results}
    status = FAIL if FAIL in statuses else NO_EVIDENCE if NO_EVIDENCE in statuses or not results else PASS
    return GateResult(gate, status, tuple(results))


def evaluate_gates(inputs: GateInputs, gate_ids: list[str] | None = None) -> GateReport:
    """The gate report of one pipeline version (all gates, or the named ones)."""
    gates = [g for g in load_gates() if not gate_ids or g.id in gate_ids]
    return GateReport(inputs.pipeline.id, inputs.pipeline_version, inputs.pipeline_sha256, inputs.now,
                      tuple(evaluate_gate(g, inputs) for g in gates))


def record_report(store: Store, report: GateReport) -> list[Evidence]:
    """Store each gate's result as ``gate_result`` evidence (no evidence is recorded as info)."""
    principal = editor(report.pipeline_id)
    version = f"v{report.pipeline_version}" if report.pipeline_version else "unsaved"
    records = []
    for result in report.gates:
        counts = result.counts
        summary = (f"Gate {result.gate.title} on {report.pipeline_id} {version}: "
                   f"{STATUS_LABELS[result.status]} ({counts[PASS]} pass, {counts[FAIL]} fail, "
                   f"{counts[NO_EVIDENCE]} without evidence)")
        metrics = {**gate_dict(result), "pipeline_version": report.pipeline_version,
                   "pipeline_sha256": report.pipeline_sha256}
        records.append(add_evidence(store, "gate_result", f"gate:{result.gate.id}:{version}", summary,
                                    pipeline_id=report.pipeline_id,
                                    outcome={PASS: "pass", FAIL: "fail"}.get(result.status, "info"),
                                    metrics=metrics, created_by=principal.label))
    with store.connect() as conn:
        record_change(conn, principal, report.pipeline_id, "gates", version, None,
                      {"counts": report.counts(), "evidence": [e.evidence_id for e in records]})
    return records

