"""The weights registry: every checkpoint the detector may load, pinned by SHA-256.

Built-in entries ship as YAML in this package; operators add entries to
``settings.weights_registry_path`` with :func:`register_weights` (``secmlops weights register``).
A ``.pt`` file is a pickle that runs code when loaded, so :func:`verify_weights` re-hashes the
file before every load and refuses anything unknown or modified, and
:mod:`~secmlops_core.detector.checkpoint_safety` reads it with a restricted unpickler first:
registering refuses a file that is not a safe detector checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from secmlops_core.access.audit import record_event
from secmlops_core.access.policy import require
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, get_settings
from secmlops_core.store import get_store
from secmlops_core.files import atomic_write_text

WEIGHTS_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_PEDESTRIAN_CLASSES: tuple = ("person", "pedestrian")
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsEntry:
    """One registered checkpoint. ``resource`` is ``package/relative/path`` inside an installed package."""

    id: str
    sha256: str
    path: str | None = None
    resource: str | None = None
    class_labels: dict[int, str] = field(default_factory=dict)
    pedestrian_classes: tuple = DEFAULT_PEDESTRIAN_CLASSES  # class ids or model class names
    source: str = "operator"
    licence: str = "unknown"
    notes: str = ""
    builtin: bool = False

    def file_path(self) -> Path:
        """Absolute path of the checkpoint file (package resources resolved without importing them)."""
        if self.path:
            return Path(self.path).expanduser().resolve()
        if not self.resource:
            raise UserFacingError(f"weights {self.id!r} have neither a path nor a package resource")
        package, _, relative = self.resource.partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise UserFacingError(
                f"weights {self.id!r} come from the Python package {package!r}, which is not installed"
            )
        return Path(list(spec.submodule_search_locations)[0], relative).resolve()

    def is_pedestrian(self, class_id: int, class_name: str) -> bool:
        """Whether a class counts as pedestrian (matched by id or case-insensitive name)."""
        for wanted in self.pedestrian_classes:
            if isinstance(wanted, int) and wanted == class_id:
                return True
            if isinstance(wanted, str) and wanted.lower() == class_name.lower():
                return True
        return False

    def label(self, class_id: int, class_name: str) -> str:
        """Display label for a class: the registry's label, else the model's name."""
        return self.class_labels.get(class_id, class_name)


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _entry_from_dict(raw: dict, builtin: bool, origin: str) -> WeightsEntry:
    try:
        weights_id = str(raw["id"])
        sha = str(raw["sha256"]).lower()
    except (KeyError, TypeError):
        raise UserFacingError(f"{origin}: every weights entry needs 'id' and 'sha256'") from None
    if not WEIGHTS_ID.match(weights_id) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise UserFacingError(f"{origin}: entry {weights_id!r} has an invalid id or SHA-256")
    pedestrians = tuple(raw.get("pedestrian_classes") or DEFAULT_PEDESTRIAN_CLASSES)
    labels = {int(k): str(v) for k, v in (raw.get("class_labels") or {}).items()}
    return WeightsEntry(
        id=weights_id, sha256=sha, path=raw.get("path"), resource=raw.get("resource"),
        class_labels=labels, pedestrian_classes=pedestrians, source=str(raw.get("source", "operator")),
        licence=str(raw.get("licence", "unknown")), notes=str(raw.get("notes", "")), builtin=builtin,
    )


def _read_yaml(text: str, origin: str) -> list[dict]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserFacingError(f"{origin} is not valid YAML: {exc}") from None
    entries = data.get("weights", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UserFacingError(f"{origin} must hold a mapping with a 'weights' list")
    return entries


def builtin_weights() -> list[WeightsEntry]:
    """Entries shipped with the package."""
    text = resources.files("secmlops_core.detector").joinpath("weights.yaml").read_text(encoding="utf-8")
    return [_entry_from_dict(raw, True, "built-in weights registry") for raw in _read_yaml(text, "built-in weights registry")]


def operator_weights(settings: Settings | None = None) -> list[WeightsEntry]:
    """Entries registered by operators in ``settings.weights_registry_path``."""
    path = (settings or get_settings()).weights_registry_path
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [_entry_from_dict(raw, False, str(path)) for raw in _read_yaml(text, str(path))]


def list_weights(settings: Settings | None = None) -> list[WeightsEntry]:
    """All registered weights: built-in first, then operator entries."""
    return builtin_weights() + operator_weights(settings)


def resolve_weights(ref: str | os.PathLike | None = None, settings: Settings | None = None) -> WeightsEntry:
    """Find the registry entry for a weights id or a checkpoint path (default: the configured id).

    A path is accepted only when its SHA-256 matches a registered entry; the returned entry
    then points at that path. Unknown ids, unregistered and modified files raise UserFacingError.
    """
    settings = settings or get_settings()
    entries = list_weights(settings)
    ref = settings.default_weights if ref is None or str(ref) == "" else ref
    by_id = {e.id: e for e in entries}
    if isinstance(ref, str) and ref in by_id:
        return by_id[ref]
    path = Path(ref).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(by_id)) or "none"
        raise UserFacingError(f"no weights with id {str(ref)!r} and no such file (registered ids: {known})")
    path = path.resolve()
    digest = sha256_file(path)
    for entry in entries:
        if entry.sha256 == digest:
            return WeightsEntry(**{**asdict(entry), "path": str(path), "resource": None})
    for entry in entries:
        if entry.path and Path(entry.path).expanduser().resolve() == path:
            raise _modified(entry, path, digest)
    raise UserFacingError(
        f"refusing to load {path}: it is not in the weights registry (SHA-256 {digest}). A .pt file is a "
        f"pickle that can run code; if you trust it, register it first: secmlops weights register {path}"
    )


def _modified(entry: WeightsEntry, path: Path, digest: str) -> UserFacingError:
    return UserFacingError(
        f"refusing to load weights {entry.id!r} from {path}: the file's SHA-256 is {digest} but the registry "
        f"pins {entry.sha256}. The file was modified or replaced (a .pt file is a pickle that can run code); "
        "restore the original or register the new file under its own id."
    )


def verify_weights(entry: WeightsEntry) -> Path:
    """Re-hash the entry's file; return its path if it matches, else raise UserFacingError."""
    path = entry.file_path()
    if not path.is_file():
        raise UserFacingError(f"weights {entry.id!r}: file {path} does not exist")
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise _modified(entry, path, digest)
    return path


def verified_copy(entry: WeightsEntry, settings: Settings | None = None) -> Path:
    """A private copy of the entry's file whose SHA-256 was checked on the copy itself.

    Loading from the copy closes the gap between checking a file and unpickling it: a file
    swapped at its original path after the check is never the one loaded.
    """
    settings = settings or get_settings()
    cache = settings.home / "verified-weights"
    target = cache / f"{entry.sha256}.pt"
    if target.is_file() and sha256_file(target) == entry.sha256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    source = entry.file_path()
    if not source.is_file():
        raise UserFacingError(f"weights {entry.id!r}: file {source} does not exist")
    staging = cache / f".{entry.sha256}.{os.getpid()}.tmp"
    try:
        with open(source, "rb") as reader, open(staging, "wb") as writer:
            digest = hashlib.sha256()
            while chunk := reader.read(_HASH_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        if digest.hexdigest() != entry.sha256:
            raise _modified(entry, source, digest.hexdigest())
        os.chmod(staging, 0o400)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def _check_is_detector_checkpoint(path: Path, settings: Settings) -> None:
    from secmlops_core.detector.checkpoint_safety import inspect_detector_checkpoint
    from secmlops_core.detector.environment import prepare_ultralytics_env

    prepare_ultralytics_env(settings)
    inspect_detector_checkpoint(path)  # UserFacingError "refusing checkpoint <path>: ..." names the file


def register_weights(
    path: str | os.PathLike,
    weights_id: str | None = None,
    *,
    pedestrian_classes: tuple | list | None = None,
    class_labels: dict[int, str] | None = None,
    source: str = "operator",
    licence: str = "unknown",
    notes: str = "",
    settings: Settings | None = None,
) -> WeightsEntry:
    """Record a checkpoint's SHA-256 in the operator registry so it may be loaded; returns the entry.

    The file must pass the restricted-unpickler check and hold a detection network with class
    names; otherwise UserFacingError, and neither the registry nor the audit trail is written.
    """
    require("manage_weights")
    settings = settings or get_settings()
    file_path = Path(path).expanduser()
    if not file_path.is_file():
        raise UserFacingError(f"cannot register {file_path}: no such file")
    file_path = file_path.resolve()
    weights_id = weights_id or re.sub(r"[^A-Za-z0-9_.-]", "-", file_path.stem)[:64].lstrip("-._") or "weights"
    if not WEIGHTS_ID.match(weights_id):
        raise UserFacingError(f"invalid weights id {weights_id!r}: use letters, digits, '.', '_' or '-'")
    if any(e.id == weights_id for e in builtin_weights()):
        raise UserFacingError(f"{weights_id!r} is a built-in weights id; choose another id")
    digest = sha256_file(file_path)
    _check_is_detector_checkpoint(file_path, settings)
    if sha256_file(file_path) != digest:
        raise UserFacingError(f"cannot register {file_path}: the file changed while it was being checked")
    entry = WeightsEntry(
        id=weights_id, sha256=digest, path=str(file_path),
        class_labels=dict(class_labels or {}),
        pedestrian_classes=tuple(pedestrian_classes or DEFAULT_PEDESTRIAN_CLASSES),
        source=source, licence=licence, notes=notes,
    )
    others = [e for e in operator_weights(settings) if e.id != weights_id]
    rows = []
    for e in others + [entry]:
        row = {k: v for k, v in asdict(e).items() if k not in {"builtin", "resource"} and v not in (None, "", {})}
        row["pedestrian_classes"] = list(e.pedestrian_classes)
        rows.append(row)
    atomic_write_text(settings.weights_registry_path, yaml.safe_dump({"weights": rows}, sort_keys=False))
    record_event(get_store(settings.store_path), "weights.register", weights_id, None,
                 {"sha256": entry.sha256, "path": entry.path, "source": source, "licence": licence})
    return entry

