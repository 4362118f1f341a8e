"""``secmlops feed`` (run one camera) and ``secmlops feeds`` (status, scenario switch)."""

from __future__ import annotations

import json
import math
import signal
import sys
from dataclasses import asdict

from secmlops_core.cli.common import add_command, command_group


def register(subparsers) -> None:
    """Add the feed subcommands."""
    feed = add_command(subparsers, "feed", "run a camera feed through the detector, writing telemetry", _feed)
    feed.add_argument("--source", required=True,
                      help="'sample', a webcam index, an rtsp/http URL, an image folder or a video file")
    feed.add_argument("--camera-id", required=True)
    feed.add_argument("--fps", type=float, help="target frames per second (default: sample 2, files as fast as possible)")
    feed.add_argument("--duration", type=float, help="stop after this many seconds")
    feed.add_argument("--weights", help="registered weights id or checkpoint path")
    feed.add_argument("--scenario", default="normal", help="starting scenario (normal, night, fog, rain, occlusion, tamper)")
    feed.add_argument("--offset", type=float, default=0.0,
                      help="sample camera only: start this many seconds into its loop (a second camera shows "
                           "the same street at another moment)")
    feed.add_argument("--threads", type=int, default=1,
                      help="CPU threads for the detector in this process (default 1, so feeds leave the app "
                           "CPU; 0 = torch's default)")

    sub = command_group(subparsers, "feeds", "status of camera feeds; switch a sample feed's scenario",
                        dest="feeds_command")
    add_command(sub, "status", "one line per camera (up, stale, down)", _status, json=True)
    scenario = add_command(sub, "scenario", "switch a running camera's scenario", _scenario)
    scenario.add_argument("camera_id")
    scenario.add_argument("scenario")


def _feed(args) -> int:
    from secmlops_core.errors import UserFacingError
    from secmlops_core.feed.runner import FeedRunner
    from secmlops_core.feed.sources import open_source
    from secmlops_core.settings import get_settings

    if args.fps is not None and not 0 < args.fps <= 120:
        raise UserFacingError("--fps must be between 0 and 120")
    if args.duration is not None and args.duration <= 0:
        raise UserFacingError("--duration must be positive")
    if not 0 <= args.threads <= 256:
        raise UserFacingError("--threads must be between 0 and 256")
    if not math.isfinite(args.offset):
        raise UserFacingError("--offset must be a number of seconds")
    settings = get_settings()
    source = open_source(args.source, settings, fps=args.fps, offset=args.offset)
    runner = FeedRunner(source, args.camera_id, settings, fps=args.fps, duration=args.duration,
                        weights=args.weights, scenario=args.scenario, torch_threads=args.threads or None)
    signal.signal(signal.SIGTERM, runner.request_stop)
    signal.signal(signal.SIGINT, runner.request_stop)
    print(f"feed {args.camera_id}: {source.kind} {args.source} ({source.description}) -> {settings.telemetry_dir}",
          file=sys.stderr)
    if source.note:
        print(f"feed {args.camera_id}: {source.note}", file=sys.stderr)
    summary = runner.run()
    print(json.dumps(asdict(summary)))
    return 0


def _status(args) -> int:
    from secmlops_core.feed.state import list_statuses
    from secmlops_core.settings import get_settings

    statuses = list_statuses(get_settings())
    if args.json:
        print(json.dumps([{**asdict(s), "health": s.health} for s in statuses]))
        return 0
    if not statuses:
        print("no camera feeds have run yet")
    for s in statuses:
        line = f"{s.camera_id:<20} {s.health:<6} {s.fps:5.1f} fps  {s.frames:>7} frames  {s.scenario:<10} {s.source}"
        print(line + (f"  note: {s.source_note}" if s.source_note else "")
              + (f"  last error: {s.last_error}" if s.last_error else ""))
    return 0


def _scenario(args) -> int:
    from secmlops_core.feed.state import set_scenario
    from secmlops_core.settings import get_settings

    set_scenario(get_settings(), args.camera_id, args.scenario)
    print(f"{args.camera_id}: scenario -> {args.scenario}")
    return 0
