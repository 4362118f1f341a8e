"""What the command modules share: the store, exit codes and the recurring argparse shapes."""

from __future__ import annotations

import argparse

from secmlops_core.settings import get_settings
from secmlops_core.store import Store, get_store

EXIT_OK, EXIT_CHECK_FAILED, EXIT_INVALID = 0, 1, 2


def store() -> Store:
    """The configured store (``settings.store_path``): the one way a command opens it."""
    return get_store(get_settings().store_path)


def command_group(subparsers, name: str, help: str, *, dest: str, metavar: str = "ACTION",
                  required: bool = False, **parser_options):
    """A command with subcommands (``secmlops NAME ACTION``); returns the subparsers to add them to."""
    parser = subparsers.add_parser(name, help=help, **parser_options)
    return parser.add_subparsers(dest=dest, metavar=metavar, required=required)


def add_command(subparsers, name: str, help: str, handler, *, json: bool = False,
                **defaults) -> argparse.ArgumentParser:
    """One (sub)command run by ``handler(args)``; ``json`` adds the ``--json`` output switch."""
    parser = subparsers.add_parser(name, help=help)
    if json:
        parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=handler, **defaults)
    return parser


def add_pipeline_file(parser: argparse.ArgumentParser) -> None:
    """The positional ``PIPELINE_FILE`` of the commands that read one pipeline file."""
    parser.add_argument("file", metavar="PIPELINE_FILE", help="pipeline file (.yaml, .yml or .json)")
