"""The ``secmlops`` command line (also ``python -m secmlops_core``).

The command line lives here, above the feature packages: one module per command group,
each with a ``register(subparsers)`` function, reaching the store through
:func:`secmlops_core.cli.common.store`. Handlers return the process exit code. Exit codes:
0 success, 1 a check failed (a gate, a threshold), 2 invalid input or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from secmlops_core import __version__
from secmlops_core.access.policy import LOCAL_OPERATOR, set_principal
from secmlops_core.cli.common import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import SettingsError

__all__ = ["EXIT_CHECK_FAILED", "EXIT_INVALID", "EXIT_OK", "build_parser", "main"]

COMMAND_MODULES = (
    "secmlops_core.cli.serve",
    "secmlops_core.cli.pipeline",
    "secmlops_core.cli.access",
    "secmlops_core.cli.threats",
    "secmlops_core.cli.detector",
    "secmlops_core.cli.feed",
    "secmlops_core.cli.telemetry",
    "secmlops_core.cli.monitoring",
    "secmlops_core.cli.attacks",
    "secmlops_core.cli.governance",
)


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
