"""Markdown and CSV threat reports."""

from __future__ import annotations

import csv
import io

from secmlops_core.reports.markup import md_table, md_text
from secmlops_core.reports.threat_report import control_rows
from secmlops_core.threats.assessment import Assessment
from secmlops_core.threats.risk import BANDS

CSV_COLUMNS = ("threat_id", "rule_id", "title", "stride", "element_type", "element_id", "element_name", "lifecycle",
               "likelihood", "impact", "score", "band", "residual_score", "residual_band", "status", "owner_role",
               "justification", "ticket", "due_date", "is_new", "controls", "atlas", "owasp_ml", "because")


def render_markdown(assessment: Assessment) -> str:
    """A readable Markdown report: summary, attack paths, threats by band, controls."""
    pipeline, catalog = assessment.pipeline, assessment.catalog
    counts = assessment.band_counts()
    lines = [f"# Threat model: {md_text(pipeline.name)}", "",
             f"Pipeline `{md_text(pipeline.id)}` with {len(pipeline.stages)} stages and {len(pipeline.flows)} flows; "
             f"{len(assessment.threats)} threats from {len(catalog.rules)} rules "
             f"({len(assessment.open_threats())} open, {len(assessment.suppressed)} suppressed, "
             f"{len(assessment.vanished)} vanished). Generated {assessment.generated_at:%Y-%m-%d %H:%M} UTC.", "",
             "## Open threats by residual risk", ""]
    lines += md_table([b for b in BANDS], [[counts[b] for b in BANDS]])
    lines += ["", "## Attack paths", ""]
    if assessment.paths:
        lines += md_table(["#", "Entry", "Crown jewel", "Path", "Mean step risk", "Band"],
                          [[i, p.entry, f"{p.asset} ({p.asset_kind})", " → ".join(p.stages), p.score, p.band]
                           for i, p in enumerate(assessment.paths[:15], 1)])
    else:
        lines.append("No path from an entry point to a crown jewel.")
    lines += ["", "## Threats", ""]
    for band in reversed(BANDS):
        items = [t for t in assessment.threats if t.residual_risk.band == band]
        if not items:
            continue
        lines += [f"### {band.capitalize()} ({len(items)})", ""]
        for item in items:
            threat, rule = item.threat, item.threat.rule
            new = " **new**" if item.is_new else ""
            lines += [f"#### {md_text(rule.title)} on {threat.element_type} `{md_text(threat.element_id)}`{new}", "",
                      f"- Threat `{threat.id}`, rule `{rule.id}`, STRIDE {rule.stride} "
                      f"({catalog.references.stride[rule.stride]}), lifecycle {rule.lifecycle}",
                      f"- Risk: inherent {threat.risk.score} ({threat.risk.band}), residual "
                      f"{item.residual_risk.score} ({item.residual_risk.band}); status **{item.status}**, "
                      f"owner {md_text(catalog.owner_name(item.owner_role))}",
                      f"- Why: {md_text('; '.join(threat.because + threat.adjustments))}",
                      f"- {md_text(rule.description)}",
                      f"- Controls: {md_text(', '.join(f'{c} ' + catalog.controls[c].title for c in rule.controls))}"]
            refs = [*rule.atlas, *rule.owasp_ml]
            if refs:
                lines.append(f"- References: {md_text(', '.join(refs))}")
            if item.justification or item.ticket:
                lines.append(f"- Decision: {md_text(item.justification)} {md_text(item.ticket)}".rstrip())
            lines.append("")
    if assessment.suppressed:
        lines += ["## Suppressed", ""]
        lines += md_table(["Threat", "Rule", "Element", "Reason"],
                          [[t.id, t.rule.id, t.element_id, t.suppressed_by] for t in assessment.suppressed])
        lines.append("")
    lines += ["## Controls for open threats", ""]
    lines += md_table(["Control", "Title", "PTPGC", "Owner", "Status", "Open threats"],
                      [[c["id"], c["title"], c["ptpgc"], c["owner_name"], c["status"], c["open_threats"]]
                       for c in control_rows(assessment)])
    return "\n".join(lines) + "\n"


def csv_cell(value) -> str:
    """A CSV cell that spreadsheets will not execute as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(assessment: Assessment) -> str:
    """One row per threat (open or not), spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in assessment.threats:
        threat, rule = item.threat, item.threat.rule
        row = [threat.id, rule.id, rule.title, rule.stride, threat.element_type, threat.element_id,
               threat.element_name, rule.lifecycle, threat.risk.likelihood, threat.risk.impact, threat.risk.score,
               threat.risk.band, item.residual_risk.score, item.residual_risk.band, item.status, item.owner_role,
               item.justification, item.ticket, item.due_date.isoformat() if item.due_date else "",
               "yes" if item.is_new else "", " ".join(rule.controls), " ".join(rule.atlas), " ".join(rule.owasp_ml),
               "; ".join(threat.because)]
        writer.writerow([csv_cell(v) for v in row])
    return buffer.getvalue()
