"""The process environment ultralytics needs before it is imported: offline, quiet, and with its
own settings file kept in the data directory."""

from __future__ import annotations

import os

from secmlops_core.settings import Settings


def prepare_ultralytics_env(settings: Settings) -> None:
    """Offline, and keep ultralytics' own settings file out of the working directory."""
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ.setdefault("YOLO_VERBOSE", "false")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(settings.home / "ultralytics"))
