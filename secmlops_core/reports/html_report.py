"""A self-contained, printable HTML threat report (no scripts, no external resources)."""

from __future__ import annotations

from html import escape

from secmlops_core.reports.svg import BAND_COLORS, graph_svg, heatmap_svg
from secmlops_core.reports.threat_report import control_rows
from secmlops_core.threats.assessment import Assessment
from secmlops_core.threats.risk import BANDS

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1c2833;line-height:1.4}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #cfd8dc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #cfd8dc;padding:.3rem .45rem;vertical-align:top;text-align:left}
th{background:#eceff1} .band{color:#fff;padding:.05rem .4rem;border-radius:.25rem;font-weight:600;white-space:nowrap}
.note{color:#546e7a} .muted{color:#607d8b;font-size:.8rem} .new{color:#6a1b9a;font-weight:700}
.cards{display:flex;gap:.6rem;flex-wrap:wrap} .card{border:1px solid #cfd8dc;border-radius:.4rem;padding:.4rem .8rem}
.card b{font-size:1.4rem;display:block}
@media print{body{margin:.6cm} h2{page-break-after:avoid} tr{page-break-inside:avoid} a{color:inherit}}
"""


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _band(band: str) -> str:
    return f'<span class="band" style="background:{BAND_COLORS[band]}">{_e(band)}</span>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table whose cells are already escaped HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ticket(ticket: str) -> str:
    if ticket.startswith(("https://", "http://")):
        return f'<a href="{_e(ticket)}" rel="noopener noreferrer">{_e(ticket)}</a>'
    return _e(ticket)


def render_html(assessment: Assessment) -> str:
    """The printable HTML report: summary, graph, heat map, attack paths, threats, controls."""
    pipeline, catalog = assessment.pipeline, assessment.catalog
    counts = assessment.band_counts()
    cards = "".join(f'<div class="card" style="border-color:{BAND_COLORS[b]}"><b>{counts[b]}</b>{_e(b)}</div>'
                    for b in reversed(BANDS))
    paths = _table(["#", "Entry", "Crown jewel", "Path", "Mean step risk", "Band"],
                   [[str(i), _e(p.entry), f"{_e(p.asset)} ({_e(p.asset_kind)})", _e(" \u2192 ".join(p.stages)),
                     _e(p.score), _band(p.band)] for i, p in enumerate(assessment.paths[:15], 1)]) \
        if assessment.paths else '<p class="note">No path from an entry point to a crown jewel.</p>'
    threat_rows = []
    for item in assessment.threats:
        threat, rule = item.threat, item.threat.rule
        refs = ", ".join([*rule.atlas, *rule.owasp_ml])
        controls = "<br>".join(f"{_e(c)} {_e(catalog.controls[c].title)} <span class='muted'>"
                               f"({_e(catalog.controls[c].ptpgc)}, {_e(catalog.owner_name(catalog.controls[c].owner))}"
                               f"{', implemented' if c in item.implemented_controls else ''})</span>"
                               for c in rule.controls)
        new = ' <span class="new">new</span>' if item.is_new else ""
        threat_rows.append([
            f"<b>{_e(rule.title)}</b>{new}<br><span class='muted'>{_e(threat.id)} \u00b7 {_e(rule.id)}</span>"
            f"<br>{_e(rule.description)}<br><span class='muted'>Because: "
            f"{_e('; '.join(threat.because + threat.adjustments))}</span>",
            f"{_e(threat.element_type)} <b>{_e(threat.element_id)}</b><br>{_e(threat.element_name)}",
            f"{_e(rule.stride)}<br><span class='muted'>{_e(catalog.references.stride[rule.stride])}</span>",
            f"{_band(threat.risk.band)} {threat.risk.score}<br>L{threat.risk.likelihood} \u00d7 I{threat.risk.impact}",
            f"{_band(item.residual_risk.band)} {item.residual_risk.score}",
            f"{_e(item.status)}<br><span class='muted'>{_e(catalog.owner_name(item.owner_role))}</span>"
            + (f"<br>{_e(item.justification)}" if item.justification else "")
            + (f"<br>{_ticket(item.ticket)}" if item.ticket else ""),
            controls, _e(refs)])
    controls = _table(["Control", "Title", "PTPGC", "Owner", "Status", "Open threats"],
                      [[_e(c["id"]), _e(c["title"]), _e(c["ptpgc"]), _e(c["owner_name"]), _e(c["status"]),
                        _e(c["open_threats"])] for c in control_rows(assessment)])
    suppressed = ""
    if assessment.suppressed:
        suppressed = "<h2>Suppressed threats</h2>" + _table(
            ["Threat", "Rule", "Element", "Reason"],
            [[_e(t.id), _e(t.rule.id), _e(t.element_id), _e(t.suppressed_by)] for t in assessment.suppressed])
    vanished = ""
    if assessment.vanished:
        vanished = "<h2>Vanished threats</h2><p class='note'>No longer raised by the current pipeline; decisions kept.</p>" \
            + _table(["Threat", "Rule", "Element", "Status"],
                     [[_e(v.threat_id), _e(v.rule_id), _e(v.element_id), _e(v.status)] for v in assessment.vanished])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Threat model: {_e(pipeline.name)}</title><style>{_CSS}</style></head>
<body>
<h1>Threat model: {_e(pipeline.name)}</h1>
<p class="note">Pipeline <code>{_e(pipeline.id)}</code>: {len(pipeline.stages)} stages, {len(pipeline.flows)} flows,
{len(pipeline.zones)} trust zones. {len(assessment.threats)} threats from {len(catalog.rules)} rules;
{len(assessment.open_threats())} open. Generated {_e(assessment.generated_at.strftime('%Y-%m-%d %H:%M'))} UTC.</p>
<h2>Open threats by residual risk</h2><div class="cards">{cards}</div>
<h2>Pipeline graph</h2><p class="note">Stages coloured by their worst open residual risk; the top attack paths
are drawn in purple.</p>{graph_svg(assessment)}
<h2>Risk heat map</h2><p class="note">Open threats, residual risk (likelihood \u00d7 impact).</p>
{heatmap_svg(assessment.heatmap())}
<h2>Attack paths</h2>{paths}
<h2>Threats</h2>{_table(["Threat", "Element", "STRIDE", "Inherent", "Residual", "Status / owner", "Controls",
                          "References"], threat_rows)}
{suppressed}{vanished}
<h2>Controls for open threats</h2>{controls}
</body></html>
"""
