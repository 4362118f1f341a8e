"""One typed settings object for the app, the CLI and the feed runners.

Sources, later ones winning: built-in defaults, a TOML file (``SECMLOPS_CONFIG`` or
``<home>/config.toml``), then ``SECMLOPS_*`` environment variables.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

ENV_PREFIX = "SECMLOPS_"
DEFAULT_HOME = Path.home() / ".secmlops"
# The sample street camera's video as `make sample-video` puts it: beside the package, not the cwd.
DEFAULT_SAMPLE_VIDEO = Path(__file__).resolve().parents[1] / "data" / "video" / "vtest.avi"


class SettingsError(ValueError):
    """Raised when the configuration is invalid; carries one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid SecMLOps configuration:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    """Validated runtime settings. Paths are absolute."""

    home: Path = DEFAULT_HOME
    # Largest pipeline file accepted (upload or CLI), in megabytes.
    max_pipeline_file_mb: float = 5.0
    # Largest image accepted for detection or attacks, in megapixels.
    max_image_megapixels: float = 40.0
    # Largest uploaded image file, in megabytes.
    max_image_file_mb: float = 25.0
    # Detector weights id used by default (see the weights registry).
    default_weights: str = "pds-yolov8s-fall"
    # A Ray cluster that runs attack-lab jobs ("host:6379", "ray://host:10001" or "auto");
    # empty: jobs run in the app's own process (see the README's Ray section).
    ray_address: str = ""
    # Whether `make run` starts the built-in sample camera next to the app.
    sample_feed: bool = True
    # Ops wall refresh interval, seconds.
    wall_refresh_seconds: float = 5.0
    # Telemetry kept in raw form for this many days (rollups are kept longer).
    telemetry_retention_days: int = 30
    # Sign-in: "none" (local default, app bound to localhost), "local" (accounts managed with
    # `secmlops users`), or "oidc" (Streamlit's st.login with .streamlit/secrets.toml).
    auth_mode: str = "none"
    # A signed-in session ends after this many minutes.
    session_timeout_minutes: float = 480.0
    # Attack-lab jobs (attacks, evaluations, poisoning) one person may launch per hour; 0 = no limit.
    attack_jobs_per_hour: int = 30
    # The key that signs the audit trail's head; default: beside the store file. Keep it where
    # people who can edit the store file cannot write (see the README's audit section).
    audit_key_file: Path | None = None
    # The sample street camera's video (OpenCV's vtest.avi, SHA-256 pinned in feed/sources.py);
    # missing or not matching: the sample camera shows still photos and says so.
    sample_video: Path = DEFAULT_SAMPLE_VIDEO
    # How many sample cameras `serve` starts (the same video, offset in time); 0 = none.
    sample_cameras: int = 2
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def store_path(self) -> Path:
        """The DuckDB file holding pipelines, threats, incidents and the audit log."""
        return self.home / "secmlops.duckdb"

    @property
    def telemetry_dir(self) -> Path:
        """Parquet segments written by feed runners (see secmlops_core.telemetry)."""
        return self.home / "telemetry"

    @property
    def feeds_dir(self) -> Path:
        """Per-camera status, control and latest-frame files of feed runners."""
        return self.home / "feeds"

    @property
    def weights_registry_path(self) -> Path:
        """Operator-registered weights (the built-in entries ship with the package)."""
        return self.home / "weights.yaml"

    def ensure_dirs(self) -> None:
        """Create the data directory tree if it does not exist yet."""
        for path in (self.home, self.telemetry_dir, self.feeds_dir):
            path.mkdir(parents=True, exist_ok=True)


def _coerce(name: str, raw, target_type, problems: list[str]):
    try:
        if target_type is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {raw!r}")
        if target_type is Path:
            return Path(os.path.expanduser(str(raw))).resolve()
        return target_type(raw)
    except (TypeError, ValueError) as exc:
        problems.append(f"{name}: {exc}")
        return None


_TYPES = {"home": Path, "ray_address": str, "max_pipeline_file_mb": float, "max_image_megapixels": float,
          "max_image_file_mb": float, "default_weights": str, "sample_feed": bool,
          "wall_refresh_seconds": float, "telemetry_retention_days": int, "auth_mode": str,
          "session_timeout_minutes": float, "attack_jobs_per_hour": int, "audit_key_file": Path,
          "sample_video": Path, "sample_cameras": int}
AUTH_MODES = ("none", "local", "oidc")
# "auto", or [ray://]host:port
RAY_ADDRESS = re.compile(r"^(auto|(ray://)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5})$")

_RANGES = {"max_pipeline_file_mb": (0.001, 500), "max_image_megapixels": (0.01, 200),
           "max_image_file_mb": (0.01, 500), "wall_refresh_seconds": (1, 3600),
           "telemetry_retention_days": (1, 3650), "session_timeout_minutes": (1, 10080),
           "attack_jobs_per_hour": (0, 100000), "sample_cameras": (0, 8)}


def load_settings(environ: dict | None = None) -> Settings:
    """Build and validate settings from the config file and ``SECMLOPS_*`` variables."""
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    values: dict = {}

    home_raw = env.get(ENV_PREFIX + "HOME")
    home = Path(os.path.expanduser(home_raw)).resolve() if home_raw else DEFAULT_HOME
    config_path = Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else home / "config.toml"
    if config_path.exists():
        try:
            file_values = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise SettingsError([f"config file {config_path}: {exc}"]) from None
        for key, raw in file_values.items():
            if key not in _TYPES:
                problems.append(f"config file {config_path}: unknown setting {key!r}")
                continue
            values[key] = _coerce(f"{config_path}:{key}", raw, _TYPES[key], problems)
    elif env.get(ENV_PREFIX + "CONFIG"):
        problems.append(f"SECMLOPS_CONFIG points to {config_path}, which does not exist")

    for key, target_type in _TYPES.items():
        env_name = ENV_PREFIX + key.upper()
        if env_name in env and env[env_name] != "":
            values[key] = _coerce(env_name, env[env_name], target_type, problems)
    values.setdefault("home", home)

    for key, (low, high) in _RANGES.items():
        value = values.get(key)
        if value is not None and not (low <= value <= high):
            problems.append(f"{key} = {value} is outside the allowed range {low}..{high}")
    if values.get("auth_mode") is not None and values["auth_mode"] not in AUTH_MODES:
        problems.append(f"auth_mode = {values['auth_mode']!r}; use one of {', '.join(AUTH_MODES)}")
    if values.get("ray_address") and not RAY_ADDRESS.match(values["ray_address"]):
        problems.append(f"ray_address = {values['ray_address']!r}; use host:port, ray://host:port or auto")
    if problems:
        raise SettingsError(problems)
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known and v is not None})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, loaded once and with the data directory created."""
    settings = load_settings()
    settings.ensure_dirs()
    return settings
