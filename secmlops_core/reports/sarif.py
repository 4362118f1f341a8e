"""SARIF 2.1.0: one result per open threat, rule metadata from the catalog.

Results point at the pipeline file (the line where the element's id is declared, when the
file text is known) and carry the threat id as a partial fingerprint, so code-scanning
tools track the same threat across runs.
"""

from __future__ import annotations

import json
import re

from secmlops_core import __version__
from secmlops_core.reports.threat_report import TOOL_NAME
from secmlops_core.threats.assessment import Assessment
from secmlops_core.threats.risk import band_for

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL_BY_BAND = {"critical": "error", "high": "error", "elevated": "warning", "medium": "warning", "low": "note"}
SECURITY_SEVERITY_BY_BAND = {"critical": "9.5", "high": "8.0", "elevated": "6.0", "medium": "4.0", "low": "2.0"}


def element_lines(source_text: str | None) -> dict[str, int]:
    """1-based line of each ``id: X`` declaration in a YAML/JSON pipeline file (first one wins)."""
    lines: dict[str, int] = {}
    if not source_text:
        return lines
    pattern = re.compile(r"""^\s*(?:-\s*)?["']?id["']?\s*:\s*["']?([A-Za-z0-9_.:-]+)["']?""")
    for number, line in enumerate(source_text.splitlines(), 1):
        match = pattern.match(line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _rule_descriptor(assessment: Assessment, rule) -> dict:
    catalog = assessment.catalog
    controls = [catalog.controls[c] for c in rule.controls]
    help_text = "Controls: " + "; ".join(f"{c.title} ({c.ptpgc}, owner {catalog.owner_name(c.owner)})"
                                         for c in controls)
    default_band = band_for(rule.likelihood * rule.impact)
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", rule.title)),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVEL_BY_BAND[default_band]},
        "properties": {
            "tags": ["security", f"STRIDE-{rule.stride}", rule.lifecycle, *rule.atlas, *rule.owasp_ml],
            "security-severity": SECURITY_SEVERITY_BY_BAND[default_band],
            "stride": rule.stride,
            "nist_ai_100_2": {"attack": rule.nist_attack, "objective": rule.nist_objective},
        },
    }


def sarif_log(assessment: Assessment, artifact_uri: str | None = None, source_text: str | None = None) -> dict:
    """The SARIF log as data."""
    uri = artifact_uri or f"{assessment.pipeline.id}.yaml"
    open_items = assessment.open_threats()
    rule_ids = sorted({item.threat.rule.id for item in open_items})
    rule_index = {rule_id: index for index, rule_id in enumerate(rule_ids)}
    lines = element_lines(source_text)
    results = []
    for item in open_items:
        threat, rule = item.threat, item.threat.rule
        band = item.residual_risk.band
        physical = {"artifactLocation": {"uri": uri, "index": 0}}
        if threat.element_id in lines:
            physical["region"] = {"startLine": lines[threat.element_id]}
        results.append({
            "ruleId": rule.id,
            "ruleIndex": rule_index[rule.id],
            "level": LEVEL_BY_BAND[band],
            "message": {"text": f"{rule.title} on {threat.element_type} '{threat.element_id}' "
                                f"({threat.element_name}): residual risk {item.residual_risk.score} ({band}). "
                                f"Because: {'; '.join(threat.because)}."},
            "locations": [{
                "physicalLocation": physical,
                "logicalLocations": [{"name": threat.element_id,
                                      "fullyQualifiedName": f"{assessment.pipeline.id}/{threat.element_type}s/"
                                                            f"{threat.element_id}",
                                      "kind": "object"}],
            }],
            "partialFingerprints": {"secmlopsThreatId/v1": threat.id},
            "properties": {"threat_id": threat.id, "status": item.status, "band": band,
                           "score": item.residual_risk.score, "owner_role": item.owner_role,
                           "security-severity": SECURITY_SEVERITY_BY_BAND[band]},
        })
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://github.com/secmlops/secmlops-studio",
                                "rules": [_rule_descriptor(assessment, assessment.catalog.rules[r]) for r in rule_ids]}},
            "artifacts": [{"location": {"uri": uri}}],
            "results": results,
            "properties": {"pipeline_id": assessment.pipeline.id, "suppressed": len(assessment.suppressed)},
        }],
    }


def render_sarif(assessment: Assessment, artifact_uri: str | None = None, source_text: str | None = None) -> str:
    """SARIF 2.1.0 JSON text."""
    return json.dumps(sarif_log(assessment, artifact_uri, source_text), indent=2, ensure_ascii=False) + "\n"
