"""A self-contained, printable HTML threat report (no scripts, no external resources)."""

from __future__ import annotations

from secmlops_core.reports.markup import CSS, esc, html_table
from secmlops_core.reports.svg import BAND_COLORS, graph_svg, heatmap_svg
from secmlops_core.reports.threat_report import control_rows
from secmlops_core.threats.assessment import Assessment
from secmlops_core.threats.risk import BANDS

def _band(band: str) -> str:
    return f'<span class="band" style="background:{BAND_COLORS[band]}">{esc(band)}</span>'


def _ticket(ticket: str) -> str:
    if ticket.startswith(("https://", "http://")):
        return f'<a href="{esc(ticket)}" rel="noopener noreferrer">{esc(ticket)}</a>'
    return esc(ticket)


def render_html(assessment: Assessment) -> str:
    """The printable HTML report: summary, graph, heat map, attack paths, threats, controls."""
    pipeline, catalog = assessment.pipeline, assessment.catalog
    counts = assessment.band_counts()
    cards = "".join(f'<div class="card" style="border-color:{BAND_COLORS[b]}"><b>{counts[b]}</b>{esc(b)}</div>'
                    for b in reversed(BANDS))
    paths = html_table(["#", "Entry", "Crown jewel", "Path", "Mean step risk", "Band"],
                       [[str(i), esc(p.entry), f"{esc(p.asset)} ({esc(p.asset_kind)})", esc(" \u2192 ".join(p.stages)),
                         esc(p.score), _band(p.band)] for i, p in enumerate(assessment.paths[:15], 1)]) \
        if assessment.paths else '<p class="note">No path from an entry point to a crown jewel.</p>'
    threat_rows = []
    for item in assessment.threats:
        threat, rule = item.threat, item.threat.rule
        refs = ", ".join([*rule.atlas, *rule.owasp_ml])
        controls = "<br>".join(f"{esc(c)} {esc(catalog.controls[c].title)} <span class='muted'>"
                               f"({esc(catalog.controls[c].ptpgc)}, {esc(catalog.owner_name(catalog.controls[c].owner))}"
                               f"{', implemented' if c in item.implemented_controls else ''})</span>"
                               for c in rule.controls)
        new = ' <span class="new">new</span>' if item.is_new else ""
        threat_rows.append([
            f"<b>{esc(rule.title)}</b>{new}<br><span class='muted'>{esc(threat.id)} \u00b7 {esc(rule.id)}</span>"
            f"<br>{esc(rule.description)}<br><span class='muted'>Because: "
            f"{esc('; '.join(threat.because + threat.adjustments))}</span>",
            f"{esc(threat.element_type)} <b>{esc(threat.element_id)}</b><br>{esc(threat.element_name)}",
            f"{esc(rule.stride)}<br><span class='muted'>{esc(catalog.references.stride[rule.stride])}</span>",
            f"{_band(threat.risk.band)} {threat.risk.score}<br>L{threat.risk.likelihood} \u00d7 I{threat.risk.impact}",
            f"{_band(item.residual_risk.band)} {item.residual_risk.score}",
            f"{esc(item.status)}<br><span class='muted'>{esc(catalog.owner_name(item.owner_role))}</span>"
            + (f"<br>{esc(item.justification)}" if item.justification else "")
            + (f"<br>{_ticket(item.ticket)}" if item.ticket else ""),
            controls, esc(refs)])
    controls = html_table(["Control", "Title", "PTPGC", "Owner", "Status", "Open threats"],
                          [[esc(c["id"]), esc(c["title"]), esc(c["ptpgc"]), esc(c["owner_name"]), esc(c["status"]),
                            esc(c["open_threats"])] for c in control_rows(assessment)])
    suppressed = ""
    if assessment.suppressed:
        suppressed = "<h2>Suppressed threats</h2>" + html_table(
            ["Threat", "Rule", "Element", "Reason"],
            [[esc(t.id), esc(t.rule.id), esc(t.element_id), esc(t.suppressed_by)] for t in assessment.suppressed])
    vanished = ""
    if assessment.vanished:
        vanished = "<h2>Vanished threats</h2><p class='note'>No longer raised by the current pipeline; decisions kept.</p>" \
            + html_table(["Threat", "Rule", "Element", "Status"],
                         [[esc(v.threat_id), esc(v.rule_id), esc(v.element_id), esc(v.status)] for v in assessment.vanished])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Threat model: {esc(pipeline.name)}</title><style>{CSS}</style></head>
<body>
<h1>Threat model: {esc(pipeline.name)}</h1>
<p class="note">Pipeline <code>{esc(pipeline.id)}</code>: {len(pipeline.stages)} stages, {len(pipeline.flows)} flows,
{len(pipeline.zones)} trust zones. {len(assessment.threats)} threats from {len(catalog.rules)} rules;
{len(assessment.open_threats())} open. Generated {esc(assessment.generated_at.strftime('%Y-%m-%d %H:%M'))} UTC.</p>
<h2>Open threats by residual risk</h2><div class="cards">{cards}</div>
<h2>Pipeline graph</h2><p class="note">Stages coloured by their worst open residual risk; the top attack paths
are drawn in purple.</p>{graph_svg(assessment)}
<h2>Risk heat map</h2><p class="note">Open threats, residual risk (likelihood \u00d7 impact).</p>
{heatmap_svg(assessment.heatmap())}
<h2>Attack paths</h2>{paths}
<h2>Threats</h2>{html_table(["Threat", "Element", "STRIDE", "Inherent", "Residual", "Status / owner", "Controls",
                          "References"], threat_rows)}
{suppressed}{vanished}
<h2>Controls for open threats</h2>{controls}
</body></html>
"""
