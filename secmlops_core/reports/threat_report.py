"""The threat report as one JSON document with a stable, documented schema.

Schema: ``threat_report.schema.json`` next to this file (``schema_version`` 1). Every other
format (Markdown, HTML, CSV, SARIF) is rendered from an Assessment through the same
helpers, so they never disagree.
"""

from __future__ import annotations

import json
from importlib import resources

from secmlops_core import __version__
from secmlops_core.threats.assessment import AssessedThreat, Assessment
from secmlops_core.threats.risk import BAND_FLOORS, BANDS

SCHEMA_NAME = "secmlops-threat-report"
SCHEMA_VERSION = 1
TOOL_NAME = "SecMLOps Studio"


def report_schema() -> dict:
    """The JSON Schema (draft 2020-12) of the report document."""
    text = resources.files("secmlops_core.reports").joinpath("threat_report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def risk_dict(risk) -> dict:
    """Likelihood, impact, score and band of a Risk."""
    return {"likelihood": risk.likelihood, "impact": risk.impact, "score": risk.score, "band": risk.band}


def threat_dict(assessment: Assessment, item: AssessedThreat) -> dict:
    """One threat of the report."""
    threat, rule, catalog = item.threat, item.threat.rule, assessment.catalog
    refs = catalog.references
    return {
        "id": threat.id,
        "rule_id": rule.id,
        "title": rule.title,
        "stride": rule.stride,
        "stride_name": refs.stride[rule.stride],
        "element_type": threat.element_type,
        "element_id": threat.element_id,
        "element_name": threat.element_name,
        "stage_ids": list(threat.stage_ids),
        "crosses_boundary": threat.crosses_boundary,
        "lifecycle": rule.lifecycle,
        "description": rule.description,
        "because": list(threat.because),
        "adjustments": list(threat.adjustments),
        "inherent": risk_dict(threat.risk),
        "residual": risk_dict(item.residual_risk),
        "status": item.status,
        "is_open": item.is_open,
        "is_new": item.is_new,
        "owner_role": item.owner_role,
        "owner_name": catalog.owner_name(item.owner_role),
        "justification": item.justification,
        "ticket": item.ticket,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "controls": [{"id": c, "title": catalog.controls[c].title, "ptpgc": catalog.controls[c].ptpgc,
                      "owner_role": catalog.controls[c].owner, "implemented": c in item.implemented_controls}
                     for c in rule.controls],
        "references": {
            "atlas": [{"id": a, "name": refs.atlas[a]} for a in rule.atlas],
            "owasp_ml": [{"id": o, "title": refs.owasp_ml[o]} for o in rule.owasp_ml],
            "nist_ai_100_2": {"attack": rule.nist_attack, "objective": rule.nist_objective},
        },
        "telemetry_signal": rule.telemetry_signal,
        "demo": rule.demo,
    }


def control_rows(assessment: Assessment) -> list[dict]:
    """Every control recommended by an open threat, with status and how many open threats it treats."""
    counts: dict[str, int] = {}
    for item in assessment.open_threats():
        for control_id in item.threat.rule.controls:
            counts[control_id] = counts.get(control_id, 0) + 1
    rows = []
    for control_id in sorted(counts, key=lambda c: (-counts[c], c)):
        control = assessment.catalog.controls[control_id]
        state = assessment.control_status.get(control_id)
        rows.append({"id": control_id, "title": control.title, "ptpgc": control.ptpgc, "owner_role": control.owner,
                     "owner_name": assessment.catalog.owner_name(control.owner), "reduces": control.reduces,
                     "status": state.status if state else "not_started", "open_threats": counts[control_id]})
    return rows


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def report_document(assessment: Assessment) -> dict:
    """The whole report as plain JSON-ready data (see threat_report.schema.json)."""
    pipeline = assessment.pipeline
    threats = assessment.threats
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "generated_at": assessment.generated_at.isoformat(timespec="seconds"),
        "tool": {"name": TOOL_NAME, "version": __version__},
        "pipeline": {"id": pipeline.id, "name": pipeline.name, "stage_count": len(pipeline.stages),
                     "flow_count": len(pipeline.flows), "zone_count": len(pipeline.zones)},
        "catalog": {"rule_count": len(assessment.catalog.rules), "user_rules": assessment.catalog.user_source},
        "risk_matrix": {"bands": list(BANDS), "band_floors": {band: floor for floor, band in BAND_FLOORS}},
        "summary": {
            "threats": len(threats),
            "open": sum(1 for t in threats if t.is_open),
            "new": sum(1 for t in threats if t.is_new),
            "suppressed": len(assessment.suppressed),
            "vanished": len(assessment.vanished),
            "open_by_residual_band": assessment.band_counts(residual_risk=True),
            "open_by_inherent_band": assessment.band_counts(residual_risk=False),
            "by_stride": _count(t.threat.rule.stride for t in threats),
            "by_status": _count(t.status for t in threats),
            "heatmap": {"rows": "likelihood 5..1", "columns": "impact 1..5", "counts": assessment.heatmap()},
        },
        "threats": [threat_dict(assessment, item) for item in threats],
        "suppressed": [{"id": t.id, "rule_id": t.rule.id, "title": t.rule.title, "element_type": t.element_type,
                        "element_id": t.element_id, "reason": t.suppressed_by} for t in assessment.suppressed],
        "vanished": [{"id": e.threat_id, "rule_id": e.rule_id, "title": e.title, "element_type": e.element_type,
                      "element_id": e.element_id, "status": e.status} for e in assessment.vanished],
        "attack_paths": [{"entry": p.entry, "asset": p.asset, "asset_kind": p.asset_kind, "stages": list(p.stages),
                          "flows": list(p.flows), "step_risks": list(p.step_risks), "score": p.score, "band": p.band}
                         for p in assessment.paths],
        "controls": control_rows(assessment),
    }


def render_json(assessment: Assessment) -> str:
    """The report document as indented JSON text."""
    return json.dumps(report_document(assessment), indent=2, ensure_ascii=False) + "\n"
