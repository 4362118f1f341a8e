"""The audit pack: one directory with the governance picture of a pipeline version as JSON,
Markdown and a self-contained HTML page, every piece of evidence as its own JSON file (the
links in the documents point at them), and a manifest of SHA-256 hashes of every file.

Markdown and HTML are rendered from the JSON document, so the three never disagree.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path

from secmlops_core import __version__
from secmlops_core.access import audit
from secmlops_core.catalog.loading import load_controls
from secmlops_core.detector.weights import sha256_file
from secmlops_core.errors import UserFacingError
from secmlops_core.governance.gates import STATUS_LABELS, gate_dict
from secmlops_core.governance.history import list_changes
from secmlops_core.governance.people import row_name
from secmlops_core.governance.workspace import Workspace
from secmlops_core.reports.markup import CSS, esc, html_table, md_table, md_text
from secmlops_core.store import Store
from secmlops_core.files import atomic_write_text

SCHEMA_NAME = "secmlops-audit-pack"
SCHEMA_VERSION = 1
FILES = ("audit-pack.json", "audit-pack.md", "audit-pack.html")
MAX_EVIDENCE_FILES = 1000
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
STATUS_COLORS = {"pass": "#2e7d32", "fail": "#b71c1c", "no_evidence": "#78909c", "ok": "#2e7d32",
                 "broken": "#b71c1c", "missing": "#78909c", "covered": "#2e7d32", "partial": "#f9a825",
                 "gap": "#b71c1c", "unmapped": "#78909c"}


def evidence_link(evidence_id: str) -> str:
    """Relative path of an evidence file inside the pack."""
    return f"evidence/{_SAFE_ID.sub('_', evidence_id)}.json"


def pack_document(store: Store, ws: Workspace) -> dict:
    """The whole pack as one JSON-ready document."""
    controls = load_controls()
    chain_check = audit.verify_chain(store)
    return {
        "schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "tool": f"SecMLOps Studio {__version__}",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pipeline": {"id": ws.pipeline.id, "name": ws.pipeline.name, "version": ws.version, "sha256": ws.sha256,
                     "stages": len(ws.pipeline.stages), "flows": len(ws.pipeline.flows),
                     "live_detector": ws.live_detector},
        "people": {
            "roles": [{"id": p.id, "name": p.name, "responsibility": p.responsibility, "people": list(p.people),
                       "edited": p.edited} for p in ws.profiles.values()],
            "raci": [{"row_type": t, "row_id": r, "name": row_name(t, r), "cells": cells,
                      "accountable": ws.raci.accountable(t, r), "edited": (t, r) in ws.raci.edited}
                     for (t, r), cells in ws.raci.rows.items()],
            "gaps": [{"kind": g.kind, "subject_id": g.subject_id, "subject": g.subject, "message": g.message,
                      "severity": g.severity} for g in ws.gaps]},
        "technology": {
            "controls": [{"id": cid, "title": c.title, "ptpgc": c.ptpgc,
                          "accountable": ws.raci.accountable("control", cid), "status": ws.controls[cid].status,
                          "note": ws.controls[cid].note} for cid, c in controls.items()],
            "tools": [{"id": t.tool.id, "name": t.tool.name, "in_use": t.in_use, "detail": t.detail,
                       "controls": list(t.tool.controls)} for t in ws.tools]},
        "processes": {**ws.report.to_dict(), "gates": [gate_dict(g) for g in ws.report.gates]},
        "compliance": [{"id": fid, "name": fc.framework.name, "source": fc.framework.source,
                        "coverage": round(fc.coverage, 4), "counts": fc.counts(),
                        "requirements": [{"id": r.requirement.id, "title": r.requirement.title,
                                          "summary": r.requirement.summary, "status": r.status,
                                          "share": round(r.share, 4), "implemented": list(r.implemented),
                                          "missing": list(r.missing), "gates": list(r.requirement.gates),
                                          "edited": r.edited} for r in fc.requirements]}
                       for fid, fc in ws.coverage.items()],
        "maturity": [{"component": m.component, "name": m.name, "score": m.score, "level": m.level,
                      "implementation": round(m.implementation, 4), "coverage": round(m.coverage, 4),
                      "operation": round(m.operation, 4), "operation_basis": m.operation_basis} for m in ws.maturity],
        "provenance": {
            "intact": ws.chain.intact,
            "links": [{"step": link.step, "status": link.status, "detail": link.detail} for link in ws.chain.links],
            "approvals": [_approval(a) for a in ws.chain.approvals],
            "promotions": [_approval(a) for a in ws.chain.promotions],
            "datasets": [{"name": d.name, "sha256": d.sha256, "files": d.files, "bytes": d.size_bytes,
                          "path": d.path, "recorded_by": d.recorded_by, "recorded_at": str(d.recorded_at),
                          "evidence": d.evidence_id, "link": evidence_link(d.evidence_id)} for d in ws.chain.datasets],
            "deployments": [{"model_id": d.model_id, "sha256": d.sha256, "frames": d.frames,
                             "last_seen": str(d.last_seen)} for d in ws.chain.deployments]},
        "evidence": [{"id": e.evidence_id, "kind": e.kind, "source_ref": e.source_ref, "summary": e.summary,
                      "outcome": e.outcome, "pipeline_id": e.pipeline_id, "threat_id": e.threat_id,
                      "created_by": e.created_by, "created_at": str(e.created_at), "link": evidence_link(e.evidence_id)}
                     for e in ws.evidence[:MAX_EVIDENCE_FILES]],
        "audit_trail": {"intact": chain_check.ok, "entries": chain_check.entries,
                        "first_bad_seq": chain_check.first_bad_seq, "problem": chain_check.problem},
        "history": [{"area": c.area, "subject": c.subject, "before": c.before, "after": c.after,
                     "changed_by": c.changed_by, "changed_at": str(c.changed_at)}
                    for c in list_changes(store, ws.pipeline.id, limit=500)],
    }


def _approval(a) -> dict:
    return {"kind": a.kind, "weights_id": a.weights_id, "sha256": a.sha256, "approved_by": a.approved_by,
            "approved_at": str(a.approved_at), "note": a.note, "evidence": a.evidence_id,
            "link": evidence_link(a.evidence_id)}


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"


# ----------------------------------------------------------------------------- Markdown
def _md_link(evidence_id: str) -> str:
    return f"[{_SAFE_ID.sub('_', evidence_id)}]({evidence_link(evidence_id)})"


def render_markdown(doc: dict) -> str:
    """The pack as Markdown (all text escaped; evidence ids link to their files)."""
    p = doc["pipeline"]
    version = f"version {p['version']}" if p["version"] else "an unsaved version"
    lines = [f"# Audit pack: {md_text(p['name'])}", "",
             f"Pipeline `{md_text(p['id'])}`, {version} (SHA-256 `{p['sha256']}`). Generated {doc['generated_at']} "
             f"by {md_text(doc['tool'])}.", "", "## Maturity (0-5)", ""]
    lines += md_table(["Component", "Score", "Level", "Implementation", "Coverage", "Operation"],
                      [[m["name"], m["score"], m["level"], _pct(m["implementation"]), _pct(m["coverage"]),
                        f"{_pct(m['operation'])} ({m['operation_basis']})"] for m in doc["maturity"]])
    processes = doc["processes"]
    lines += ["", "## Processes: lifecycle gates", "",
              f"{processes['counts']['pass']} passed, {processes['counts']['fail']} failed, "
              f"{processes['counts']['no_evidence']} without evidence.", ""]
    for gate in processes["gates"]:
        lines += [f"### {md_text(gate['title'])}: {STATUS_LABELS[gate['status']]}", ""]
        lines += md_table(["Criterion", "Result", "Detail"],
                          [[c["title"], STATUS_LABELS[c["status"]], c["detail"]] for c in gate["criteria"]])
        links = [_md_link(i) for c in gate["criteria"] for i in c["evidence"]]
        lines += ["", f"Evidence: {', '.join(links)}" if links else "Evidence: none", ""]
    lines += ["## People: accountability gaps", ""]
    lines += [f"- {md_text(g['severity'])}: {md_text(g['message'])}" for g in doc["people"]["gaps"]] or ["- none"]
    lines += ["", "### Roles", ""]
    lines += md_table(["Role", "Responsibility", "People"],
                      [[r["name"], r["responsibility"], ", ".join(r["people"]) or "nobody"]
                       for r in doc["people"]["roles"]])
    lines += ["", "### RACI by lifecycle stage", ""]
    lines += md_table(["Stage", "Accountable", "Cells"],
                      [[r["name"], r["accountable"] or "NONE", ", ".join(f"{k}: {v}" for k, v in r["cells"].items())]
                       for r in doc["people"]["raci"] if r["row_type"] == "stage"])
    lines += ["", "## Governance and compliance", ""]
    for fw in doc["compliance"]:
        c = fw["counts"]
        lines += [f"### {md_text(fw['name'])}: {_pct(fw['coverage'])} covered", "",
                  f"{c['covered']} covered, {c['partial']} partial, {c['gap']} gaps, {c['unmapped']} unmapped. "
                  f"Source: {md_text(fw['source'])}.", ""]
        lines += md_table(["Requirement", "Status", "Coverage", "Missing controls"],
                          [[f"{r['id']} {r['title']}", r["status"], _pct(r["share"]), ", ".join(r["missing"])]
                           for r in fw["requirements"]])
        lines.append("")
    lines += ["## Technology: controls", ""]
    lines += md_table(["Control", "PTPGC", "Accountable", "Status", "Note"],
                      [[f"{c['id']} {c['title']}", c["ptpgc"], c["accountable"] or "NONE", c["status"], c["note"]]
                       for c in doc["technology"]["controls"]])
    lines += ["", "### Tooling", ""]
    lines += md_table(["Tool", "In use", "Detail"],
                      [[t["name"], {True: "yes", False: "no", None: "unknown"}[t["in_use"]], t["detail"]]
                       for t in doc["technology"]["tools"]])
    prov = doc["provenance"]
    lines += ["", f"## Provenance: chain {'intact' if prov['intact'] else 'incomplete'}", ""]
    lines += md_table(["Step", "Status", "Detail"], [[k["step"], k["status"], k["detail"]] for k in prov["links"]])
    lines += ["", "### Approvals and dataset hashes", ""]
    lines += [f"- approval of {md_text(a['weights_id'])} (`{a['sha256']}`) by {md_text(a['approved_by'])} at "
              f"{a['approved_at']}: {_md_link(a['evidence'])}" for a in prov["approvals"]]
    lines += [f"- dataset {md_text(d['name'])}: `{d['sha256']}` ({d['files']} files) recorded by "
              f"{md_text(d['recorded_by'])}: {_md_link(d['evidence'])}" for d in prov["datasets"]]
    if not prov["approvals"] and not prov["datasets"]:
        lines.append("- none recorded")
    trail = doc["audit_trail"]
    lines += ["", "## Evidence", ""]
    lines += md_table(["Evidence", "Kind", "Outcome", "Created", "Summary"],
                      [[e["id"], e["kind"], e["outcome"], e["created_at"], e["summary"]] for e in doc["evidence"]])
    lines += ["", "Each evidence record is in `evidence/<id>.json`.", "",
              f"## Audit trail: {'intact' if trail['intact'] else 'BROKEN'} ({trail['entries']} entries)", "",
              f"{md_text(trail['problem'])}" if trail["problem"] else "The hash chain verifies.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- HTML
def radar_svg(maturity: list[dict], size: int = 320) -> str:
    """The maturity radar as inline SVG (0-5 on each PTPGC axis)."""
    centre, radius, n = size / 2, size / 2 - 50, len(maturity)

    def point(index: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / n
        return centre + radius * value / 5 * math.cos(angle), centre + radius * value / 5 * math.sin(angle)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
             'aria-label="Maturity radar">']
    for ring in range(1, 6):
        ring_points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, ring) for i in range(n)))
        parts.append(f'<polygon points="{ring_points}" fill="none" stroke="#cfd8dc"/>')
    for i, m in enumerate(maturity):
        x, y = point(i, 5)
        lx, ly = point(i, 5.9)
        parts.append(f'<line x1="{centre}" y1="{centre}" x2="{x:.1f}" y2="{y:.1f}" stroke="#cfd8dc"/>')
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="middle">{esc(m["name"])} '
                     f'{m["score"]}</text>')
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, m["score"]) for i, m in enumerate(maturity)))
    parts.append(f'<polygon points="{shape}" fill="#1565c0" fill-opacity=".3" stroke="#1565c0" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _status(status: str) -> str:
    label = STATUS_LABELS.get(status, status)
    return f'<span class="band" style="background:{STATUS_COLORS.get(status, "#607d8b")}">{esc(label)}</span>'


def _html_link(evidence_id: str) -> str:
    return f'<a href="{esc(evidence_link(evidence_id))}">{esc(evidence_id)}</a>'


def render_html(doc: dict) -> str:
    """The pack as one self-contained HTML page (no scripts, no external resources)."""
    p = doc["pipeline"]
    maturity = html_table(["Component", "Score", "Level", "Implementation", "Coverage", "Operation"],
                          [[esc(m["name"]), esc(m["score"]), esc(m["level"]), _pct(m["implementation"]),
                            _pct(m["coverage"]), f"{_pct(m['operation'])} <span class='muted'>{esc(m['operation_basis'])}"
                            "</span>"] for m in doc["maturity"]])
    gates = "".join(
        f"<h3>{esc(g['title'])} {_status(g['status'])}</h3>" + html_table(
            ["Criterion", "Result", "Detail", "Evidence"],
            [[esc(c["title"]), _status(c["status"]), esc(c["detail"]),
              ", ".join(_html_link(i) for i in c["evidence"])] for c in g["criteria"]])
        for g in doc["processes"]["gates"])
    gaps = "".join(f"<li>{esc(g['severity'])}: {esc(g['message'])}</li>" for g in doc["people"]["gaps"]) or "<li>none</li>"
    roles = html_table(["Role", "Responsibility", "People"],
                       [[esc(r["name"]), esc(r["responsibility"]), esc(", ".join(r["people"]) or "nobody")]
                        for r in doc["people"]["roles"]])
    raci = html_table(["Stage", "Accountable", "Cells"],
                      [[esc(r["name"]), esc(r["accountable"] or "NONE"),
                        esc(", ".join(f"{k}: {v}" for k, v in r["cells"].items()))]
                       for r in doc["people"]["raci"] if r["row_type"] == "stage"])
    frameworks = "".join(
        f"<h3>{esc(fw['name'])}: {_pct(fw['coverage'])} covered</h3><p class='note'>{esc(fw['source'])}</p>" + html_table(
            ["Requirement", "Status", "Coverage", "Implemented", "Missing"],
            [[f"<b>{esc(r['id'])}</b> {esc(r['title'])}<br><span class='muted'>{esc(r['summary'])}</span>",
              _status(r["status"]), _pct(r["share"]), esc(", ".join(r["implemented"])), esc(", ".join(r["missing"]))]
             for r in fw["requirements"]]) for fw in doc["compliance"])
    controls = html_table(["Control", "PTPGC", "Accountable", "Status", "Note"],
                          [[f"{esc(c['id'])} {esc(c['title'])}", esc(c["ptpgc"]), esc(c["accountable"] or "NONE"),
                            esc(c["status"]), esc(c["note"])] for c in doc["technology"]["controls"]])
    tools = html_table(["Tool", "In use", "Detail"],
                       [[esc(t["name"]), esc({True: "yes", False: "no", None: "unknown"}[t["in_use"]]), esc(t["detail"])]
                        for t in doc["technology"]["tools"]])
    prov = doc["provenance"]
    chain = html_table(["Step", "Status", "Detail"],
                       [[esc(k["step"]), _status(k["status"]), esc(k["detail"])] for k in prov["links"]])
    records = html_table(["Record", "SHA-256", "By", "At", "Evidence"],
                         [[esc(f"approval of {a['weights_id']}"), f"<code>{esc(a['sha256'])}</code>", esc(a["approved_by"]),
                           esc(a["approved_at"]), _html_link(a["evidence"])] for a in prov["approvals"]]
                         + [[esc(f"dataset {d['name']}"), f"<code>{esc(d['sha256'])}</code>", esc(d["recorded_by"]),
                             esc(d["recorded_at"]), _html_link(d["evidence"])] for d in prov["datasets"]])
    evidence = html_table(["Evidence", "Kind", "Outcome", "Created", "Summary"],
                          [[_html_link(e["id"]), esc(e["kind"]), esc(e["outcome"]), esc(e["created_at"]), esc(e["summary"])]
                           for e in doc["evidence"]])
    trail = doc["audit_trail"]
    counts = doc["processes"]["counts"]
    version = f"version {p['version']}" if p["version"] else "an unsaved version"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Audit pack: {esc(p['name'])}</title><style>{CSS}</style></head>
<body>
<h1>Audit pack: {esc(p['name'])}</h1>
<p class="note">Pipeline <code>{esc(p['id'])}</code>, {esc(version)} (SHA-256 <code>{esc(p['sha256'])}</code>).
Generated {esc(doc['generated_at'])} by {esc(doc['tool'])}. Gates: {counts['pass']} passed, {counts['fail']} failed,
{counts['no_evidence']} without evidence. Audit trail: {'intact' if trail['intact'] else 'BROKEN'}
({trail['entries']} entries).</p>
<h2>Maturity</h2><div class="cards"><div>{radar_svg(doc['maturity'])}</div><div>{maturity}</div></div>
<h2>Processes: lifecycle gates</h2>{gates}
<h2>People</h2><h3>Accountability gaps</h3><ul>{gaps}</ul><h3>Roles</h3>{roles}<h3>RACI by lifecycle stage</h3>{raci}
<h2>Governance and compliance</h2>{frameworks}
<h2>Technology</h2><h3>Controls</h3>{controls}<h3>Tooling</h3>{tools}
<h2>Provenance</h2>{chain}{records}
<h2>Evidence</h2><p class="note">Each record is in its own file under <code>evidence/</code>.</p>{evidence}
</body></html>
"""


def write_pack(store: Store, ws: Workspace, out_dir: Path | str) -> list[Path]:
    """Write the pack into ``out_dir`` (created when missing); returns the files written."""
    out = Path(out_dir)
    try:
        (out / "evidence").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserFacingError(f"{out}: cannot create the audit pack directory ({exc.strerror or exc})") from None
    doc = pack_document(store, ws)
    written = []
    try:
        for e in ws.evidence[:MAX_EVIDENCE_FILES]:
            path = out / evidence_link(e.evidence_id)
            atomic_write_text(path, json.dumps({"id": e.evidence_id, "kind": e.kind, "source_ref": e.source_ref,
                                                "summary": e.summary, "pipeline_id": e.pipeline_id,
                                                "threat_id": e.threat_id, "outcome": e.outcome, "metrics": e.metrics,
                                                "created_by": e.created_by, "created_at": str(e.created_at)},
                                               indent=2, default=str, ensure_ascii=False))
            written.append(path)
        for name, text in zip(FILES, (json.dumps(doc, indent=2, default=str, ensure_ascii=False),
                                      render_markdown(doc), render_html(doc))):
            atomic_write_text(out / name, text)
            written.append(out / name)
        manifest = {path.relative_to(out).as_posix(): sha256_file(path) for path in written}
        atomic_write_text(out / "manifest.json", json.dumps({"sha256": manifest}, indent=2, sort_keys=True))
    except OSError as exc:
        raise UserFacingError(f"{out}: cannot write the audit pack ({exc.strerror or exc})") from None
    return [*written, out / "manifest.json"]
