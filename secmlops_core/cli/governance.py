"""`secmlops gates PIPELINE_FILE` (lifecycle gates from evidence; a CI gate) and
`secmlops audit-pack PIPELINE_FILE -o DIR` (the governance audit pack).

Evidence, register decisions, control status and RACI are read from the store for the
pipeline id in the file. Exit codes: 0 ok (every gate passed), 1 a gate failed or has no
evidence (missing evidence is never a pass), 2 invalid input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from secmlops_core.cli import common
from secmlops_core.cli.common import EXIT_CHECK_FAILED, EXIT_OK, add_pipeline_file
from secmlops_core.errors import UserFacingError
from secmlops_core.governance.definitions import load_gates
from secmlops_core.governance.gates import FAIL, NO_EVIDENCE, PASS, STATUS_LABELS


def register(subparsers) -> None:
    """Add the ``gates`` and ``audit-pack`` commands."""
    gates = subparsers.add_parser(
        "gates", help="lifecycle security gates of a pipeline, computed from evidence; CI gate",
        description="Evaluate the lifecycle security gates (design review, data validation, training provenance, "
                    "pre-deployment robustness, signed deployment, monitoring) of a pipeline file against the "
                    "evidence in the store. Exit 0 when every gate passes, 1 when a gate fails or lacks evidence, "
                    "2 for invalid input.")
    add_pipeline_file(gates)
    gates.add_argument("--json", action="store_true", help="print the gate report as JSON")
    gates.add_argument("--gate", action="append", metavar="ID", dest="gate_ids",
                       help="evaluate only this gate (repeatable): " + ", ".join(g.id for g in load_gates()))
    gates.add_argument("--record", action="store_true",
                       help="also store each gate's result as gate_result evidence")
    gates.set_defaults(handler=run_gates)
    pack = subparsers.add_parser(
        "audit-pack", help="write the governance audit pack (Markdown, HTML, JSON, evidence) of a pipeline",
        description="Write the audit pack of a pipeline file into a directory: audit-pack.md, audit-pack.html "
                    "(self-contained), audit-pack.json, evidence/<id>.json and manifest.json with SHA-256 hashes.")
    add_pipeline_file(pack)
    pack.add_argument("-o", "--output", metavar="DIR", required=True, help="directory to write (created if missing)")
    pack.set_defaults(handler=run_audit_pack)


def _workspace(path: str, gate_ids: list[str] | None = None):
    from secmlops_core.governance.workspace import build
    from secmlops_core.pipeline.importing import read_any_pipeline

    known = {g.id for g in load_gates()}
    unknown = sorted(set(gate_ids or ()) - known)
    if unknown:
        raise UserFacingError(f"unknown gate(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    pipeline, _ = read_any_pipeline(Path(path))
    store = common.store()
    return store, build(store, pipeline, gate_ids=gate_ids)


def run_gates(args) -> int:
    """Handler of ``secmlops gates``."""
    store, ws = _workspace(args.file, args.gate_ids)
    report = ws.report
    if args.record:
        from secmlops_core.governance.gates import record_report

        record_report(store, report)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        version = f"v{report.pipeline_version}" if report.pipeline_version else "unsaved version"
        print(f"Gates of {report.pipeline_id} ({version}, sha256 {report.pipeline_sha256[:12]}...)")
        marks = {PASS: "PASS", FAIL: "FAIL", NO_EVIDENCE: "NO EVIDENCE"}
        for result in report.gates:
            print(f"\n{marks[result.status]:<12} {result.gate.title} [{result.gate.id}]")
            for item in result.criteria:
                print(f"  {marks[item.status]:<12} {item.criterion.title}: {item.detail}")
    counts = report.counts()
    summary = ", ".join(f"{counts[s]} {STATUS_LABELS[s]}" for s in (PASS, FAIL, NO_EVIDENCE))
    print(f"{report.pipeline_id}: {len(report.gates)} gate(s): {summary}", file=sys.stderr)
    if report.passed:
        return EXIT_OK
    print("gates not passed: a failed gate or missing evidence blocks release", file=sys.stderr)
    return EXIT_CHECK_FAILED


def run_audit_pack(args) -> int:
    """Handler of ``secmlops audit-pack``."""
    from secmlops_core.reports.audit_pack import write_pack

    store, ws = _workspace(args.file)
    files = write_pack(store, ws, Path(args.output))
    print(f"wrote {len(files)} file(s) to {args.output}: audit-pack.md, audit-pack.html, audit-pack.json, "
          f"{len(ws.evidence)} evidence record(s), manifest.json", file=sys.stderr)
    return EXIT_OK
