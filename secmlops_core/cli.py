"""The ``secmlops`` command line (also ``python -m secmlops_core``).

Each feature package contributes its subcommands through a ``commands`` module with a
``register(subparsers)`` function; handlers return the process exit code. Exit codes:
0 success, 1 a check failed (a gate, a threshold), 2 invalid input or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from secmlops_core import __version__
from secmlops_core.access.policy import LOCAL_OPERATOR, set_principal
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import SettingsError

COMMAND_MODULES = (
    "secmlops_core.serve",
    "secmlops_core.pipeline.commands",
    "secmlops_core.access.commands",
    "secmlops_core.threats.commands",
    "secmlops_core.detector.commands",
    "secmlops_core.feed.commands",
    "secmlops_core.telemetry.commands",
    "secmlops_core.monitoring.commands",
    "secmlops_core.attacks.commands",
    "secmlops_core.governance.commands",
)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_INVALID = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="secmlops",
        description="SecMLOps Studio: threat modeling, live detector operations and attack demos for ML pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"secmlops {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; never lets a traceback reach the user for expected failures."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_INVALID
    set_principal(LOCAL_OPERATOR)  # whoever runs the CLI already holds the data directory
    try:
        return int(args.handler(args) or 0)
    except (UserFacingError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
