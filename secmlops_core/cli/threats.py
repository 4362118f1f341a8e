"""`secmlops threats PIPELINE_FILE`: threat report and CI gate.

Exit codes: 0 report written (and the gate passed), 1 an open threat at or above
``--fail-on`` remains, 2 invalid input (pipeline file, rule file, options).
"""

from __future__ import annotations

import sys
from pathlib import Path

from secmlops_core.catalog.loading import load_catalog
from secmlops_core.cli import common
from secmlops_core.cli.common import EXIT_CHECK_FAILED, EXIT_OK, add_pipeline_file
from secmlops_core.errors import UserFacingError
from secmlops_core.pipeline.importing import read_any_pipeline
from secmlops_core.reports.render import FORMATS, render
from secmlops_core.threats.assessment import assess
from secmlops_core.threats.risk import BANDS


def register(subparsers) -> None:
    """Add the ``threats`` command."""
    parser = subparsers.add_parser(
        "threats", help="STRIDE threats, risk and attack paths of a pipeline file; CI gate",
        description="Generate the threat model of a pipeline file (project YAML/JSON or Threat Dragon JSON). "
                    "Exit 0 normally, 1 when --fail-on finds an open threat at or above the band "
                    "(residual risk), 2 for invalid input.")
    add_pipeline_file(parser)
    parser.add_argument("--format", "-f", choices=list(FORMATS), default="md", help="report format (default md)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write the report here instead of standard output")
    parser.add_argument("--fail-on", choices=BANDS, metavar="BAND",
                        help=f"exit 1 when an open threat's residual band is BAND or worse ({', '.join(BANDS)})")
    parser.add_argument("--rules", metavar="USER_RULES.yaml",
                        help="extra rules, replaced or disabled rules, and assumptions (validated)")
    parser.add_argument("--with-register", action="store_true",
                        help="apply the status decisions and implemented controls stored for this pipeline id")
    parser.set_defaults(handler=run_threats)


def _stored_decisions(pipeline_id: str):
    from secmlops_core.threats.register import control_states, load_register

    store = common.store()
    entries, generation = load_register(store, pipeline_id)
    return entries, generation, control_states(store, pipeline_id)


def run_threats(args) -> int:
    """Handler of ``secmlops threats``."""
    path = Path(args.file)
    pipeline, _ = read_any_pipeline(path)
    catalog = load_catalog(args.rules) if args.rules else load_catalog()
    entries, generation, states = _stored_decisions(pipeline.id) if args.with_register else ({}, 0, {})
    assessment = assess(pipeline, catalog, entries, generation, states)
    source_text = path.read_text(encoding="utf-8", errors="replace") if args.format == "sarif" else None
    text = render(assessment, args.format, artifact_uri=path.as_posix(), source_text=source_text)
    if args.output:
        output = Path(args.output)
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserFacingError(f"{output}: cannot write the report ({exc.strerror or exc})") from None
        print(f"wrote {output} ({FORMATS[args.format].label})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    counts = assessment.band_counts()
    print(f"{pipeline.id}: {len(assessment.threats)} threats, {len(assessment.open_threats())} open "
          f"({', '.join(f'{counts[b]} {b}' for b in reversed(BANDS))}), {len(assessment.suppressed)} suppressed",
          file=sys.stderr)
    if args.fail_on:
        failures = assessment.gate_failures(args.fail_on)
        if failures:
            print(f"gate failed: {len(failures)} open threat(s) at or above {args.fail_on}", file=sys.stderr)
            for item in failures[:20]:
                print(f"  {item.residual_risk.band:<8} {item.id} {item.threat.rule.id} "
                      f"{item.threat.element_type}:{item.threat.element_id} {item.threat.rule.title}", file=sys.stderr)
            if len(failures) > 20:
                print(f"  ... and {len(failures) - 20} more", file=sys.stderr)
            return EXIT_CHECK_FAILED
        print(f"gate passed: no open threat at or above {args.fail_on}", file=sys.stderr)
    return EXIT_OK
