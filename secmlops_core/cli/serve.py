"""`secmlops serve`: the app plus, on the local default, two sample camera feeds.

The sample cameras (``sample_cameras``, default 2) play the same street video, each offset by
an equal share of its loop, so the Ops wall shows a fleet. All run as child processes; stopping
`serve` (Ctrl-C or SIGTERM) stops them all cleanly.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

from secmlops_core.errors import UserFacingError
from secmlops_core.settings import get_settings

APP_PATH = Path(__file__).resolve().parents[2] / "app.py"
SAMPLE_CAMERA_ID = "sample-cam-1"  # the first sample camera
# Detector frames per second shared by all sample cameras: one camera at 2 fps, two at 1 fps each.
# On CPU a frame costs about 0.3-0.45 core-seconds (YOLOv8s, one torch thread per feed), so two
# cameras at 2 fps each would take ~1.3-1.8 of a 2-core machine's cores; at 1 fps each they take
# under one and leave the app the other (README, "Live detector and telemetry").
SAMPLE_FLEET_FPS = 2.0


def sample_camera_commands(count: int, loop_seconds: float, fleet_fps: float = SAMPLE_FLEET_FPS) -> list[list[str]]:
    """`secmlops feed` command lines for ``count`` sample cameras, spread evenly over one loop of
    the sample video and sharing ``fleet_fps`` detector frames per second."""
    fps = f"{round(fleet_fps / count, 3):g}" if count else ""
    return [[sys.executable, "-m", "secmlops_core", "feed", "--source", "sample", "--camera-id",
             f"sample-cam-{n + 1}", "--offset", f"{round(n * loop_seconds / count, 2):g}", "--fps", fps]
            for n in range(count)]


def _feed_available() -> bool:
    return importlib.util.find_spec("secmlops_core.cli.feed") is not None


LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")


def _serve(args) -> int:
    settings = get_settings()
    if settings.auth_mode == "none" and args.address not in LOCAL_ADDRESSES:
        raise UserFacingError(
            f"sign-in is off (auth_mode = none), so the app may only listen on this machine; to serve on "
            f"{args.address}, set SECMLOPS_AUTH_MODE=local (accounts from `secmlops users add`) or oidc.")
    children: list[subprocess.Popen] = []
    if settings.sample_feed and settings.sample_cameras and not args.no_sample_feed and _feed_available():
        from secmlops_core.feed.sources import sample_loop_seconds

        for command in sample_camera_commands(settings.sample_cameras, sample_loop_seconds(settings)):
            children.append(subprocess.Popen(command))
    children.append(subprocess.Popen(
        [sys.executable, "-m", "secmlops_core.ui.launch", "run", str(APP_PATH), "--server.port", str(args.port),
         "--server.address", args.address], cwd=APP_PATH.parent))
    print(f"SecMLOps Studio: http://{args.address}:{args.port}  (data in {settings.home})", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    app = children[-1]
    while not stopping and app.poll() is None:
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else (app.returncode or 0)


def register(subparsers) -> None:
    """Add the `serve` command."""
    serve = subparsers.add_parser("serve", help="run the app (and the sample camera feeds on the local default)")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="localhost",
                       help="interface to bind; the default keeps the app on this machine only")
    serve.add_argument("--no-sample-feed", action="store_true", help="do not start the built-in sample cameras")
    serve.set_defaults(handler=_serve)
