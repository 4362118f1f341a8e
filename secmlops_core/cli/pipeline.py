"""`secmlops pipeline validate|convert|layout`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from secmlops_core.cli.common import EXIT_INVALID, add_command, command_group
from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.formats import detect_format, dumps_pipeline
from secmlops_core.pipeline.importing import read_any_pipeline
from secmlops_core.pipeline.threat_dragon import export_threat_dragon

TARGETS = ("yaml", "json", "threat-dragon")


def target_for(output: Path, explicit: str | None) -> str:
    """The output format: --to when given, else from the name (``*.td.json`` is Threat Dragon)."""
    if explicit:
        return explicit
    if output.name.lower().endswith(".td.json"):
        return "threat-dragon"
    return detect_format(output.name)


def _validate(args) -> int:
    pipeline, report = read_any_pipeline(Path(args.file))
    print(f"{args.file}: valid ({len(pipeline.stages)} stages, {len(pipeline.flows)} flows, "
          f"{len(pipeline.zones)} zones)")
    if report:
        for guess in report.guesses:
            print(f"  guessed: {guess}")
        for skipped in report.skipped:
            print(f"  skipped: {skipped}")
    return 0


def _convert(args) -> int:
    source = Path(args.file)
    output = Path(args.output)
    target = target_for(output, args.to)
    pipeline, report = read_any_pipeline(source)
    if target == "threat-dragon":
        text = json.dumps(export_threat_dragon(pipeline), indent=2, ensure_ascii=False) + "\n"
    else:
        text = dumps_pipeline(pipeline, target)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output} ({target})", file=sys.stderr)
    if report:
        for guess in report.guesses:
            print(f"  guessed: {guess}", file=sys.stderr)
        for skipped in report.skipped:
            print(f"  skipped: {skipped}", file=sys.stderr)
    return 0


def _print_problems(exc: ValidationFailed) -> None:
    for problem in exc.problems:
        print(f"{exc.subject}: {problem}", file=sys.stderr)


def _guarded(handler):
    def run(args) -> int:
        try:
            return handler(args)
        except ValidationFailed as exc:
            _print_problems(exc)
            return EXIT_INVALID
    return run


def _schema(args) -> int:
    from secmlops_core.pipeline.schema import pipeline_json_schema

    print(json.dumps(pipeline_json_schema(), indent=2))
    return 0


def register(subparsers) -> None:
    """Add the `pipeline` command group."""
    commands = command_group(subparsers, "pipeline", "validate and convert pipeline files", dest="pipeline_command",
                             metavar="SUBCOMMAND", required=True)

    validate = add_command(commands, "validate", "check a pipeline file (project YAML/JSON or Threat Dragon v2)",
                           _guarded(_validate))
    validate.add_argument("file")

    convert = commands.add_parser(
        "convert", help="convert between the project format (YAML/JSON) and Threat Dragon v2 JSON",
        description="The output format follows the output name (.yaml/.yml, .json, *.td.json for Threat Dragon) "
                    "unless --to is given.")
    convert.add_argument("file")
    convert.add_argument("-o", "--output", required=True)
    convert.add_argument("--to", choices=TARGETS)
    convert.set_defaults(handler=_guarded(_convert))

    add_command(commands, "schema", "print the JSON Schema of the pipeline file format", _schema)
