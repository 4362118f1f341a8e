"""``secmlops telemetry compact|kpis``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta

from secmlops_core.cli.common import add_command, command_group


def register(subparsers) -> None:
    """Add the telemetry subcommands."""
    sub = command_group(subparsers, "telemetry", "detector telemetry: compaction, rollups, KPIs",
                        dest="telemetry_command")
    add_command(sub, "compact", "merge segments, write rollups, apply retention", _compact)
    kpis = add_command(sub, "kpis", "KPIs over the last N minutes", _kpis)
    kpis.add_argument("--minutes", type=float, default=15.0)
    kpis.add_argument("--camera")
    kpis.add_argument("--json", action="store_true")


def _compact(args) -> int:
    from secmlops_core.settings import get_settings
    from secmlops_core.telemetry.lake import compact

    settings = get_settings()
    report = compact(settings.telemetry_dir, retention_days=settings.telemetry_retention_days)
    print(json.dumps(asdict(report)))
    return 0


def _kpis(args) -> int:
    from secmlops_core.errors import UserFacingError
    from secmlops_core.telemetry.query import kpis
    from secmlops_core.telemetry.writer import utc_now

    if not 0 < args.minutes <= 60 * 24 * 3660:
        raise UserFacingError("--minutes must be positive")
    end = utc_now()
    result = kpis(end - timedelta(minutes=args.minutes), end, args.camera)
    if args.json:
        print(json.dumps(asdict(result), default=str))
        return 0
    for key, value in asdict(result).items():
        print(f"{key:<22} {value}")
    return 0
