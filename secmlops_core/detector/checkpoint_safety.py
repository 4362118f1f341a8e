"""Checkpoint safety: read a ``.pt`` file with torch's restricted unpickler before anything unpickles it in full.

A torch checkpoint is a pickle, and a pickle can name any function to call while it is read
(``os.system`` included). :func:`safe_load_checkpoint` refuses files that are not zip-format
``torch.save`` checkpoints, lists the globals a checkpoint references
(``torch.serialization.get_unsafe_globals_in_checkpoint``), refuses any that
``checkpoint_globals.yaml`` does not allow, and loads the rest with ``torch.load(weights_only=True)``
under exactly that allow-list. :func:`detector_model` then checks that the loaded checkpoint holds
a detection network with class names. Only a file that passes may reach ultralytics' own loader.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from secmlops_core.errors import UserFacingError

ALLOW_LIST_FILE = "checkpoint_globals.yaml"
ALLOW_LIST_PATH = f"secmlops_core/detector/{ALLOW_LIST_FILE}"
DETECT_HEADS = frozenset({"Detect", "v10Detect"})  # ultralytics heads of plain detection models
_ZIP_MAGIC = b"PK\x03\x04"
# torch.serialization.safe_globals adds to and removes from one process-wide set: one restricted load at a time.
_load_lock = threading.Lock()


@dataclass(frozen=True)
class AllowList:
    """The globals a detector checkpoint may reference, beyond torch's own weights_only allow-list."""

    classes: tuple[str, ...]
    functions: tuple[str, ...]
    module_class_prefixes: tuple[str, ...]
    never_modules: tuple[str, ...]

    def is_never(self, name: str) -> bool:
        """Whether ``name`` comes from a module nothing may be taken from (os, subprocess, builtins, ...)."""
        return any(name == module or name.startswith(module + ".") for module in self.never_modules)


@lru_cache(maxsize=1)
def allow_list() -> AllowList:
    """The allow-list shipped in ``checkpoint_globals.yaml`` (read once per process)."""
    text = resources.files("secmlops_core.detector").joinpath(ALLOW_LIST_FILE).read_text(encoding="utf-8")
    raw = yaml.safe_load(text) or {}
    keys = ("classes", "functions", "module_class_prefixes", "never_modules")
    if not isinstance(raw, dict) or any(not isinstance(raw.get(k) or [], list) for k in keys):
        raise UserFacingError(f"{ALLOW_LIST_PATH} must map {', '.join(keys)} to lists of names")
    listed = AllowList(*(tuple(str(v) for v in raw.get(k) or ()) for k in keys))
    forbidden = [n for n in listed.classes + listed.functions + listed.module_class_prefixes if listed.is_never(n)]
    if forbidden:
        raise UserFacingError(f"{ALLOW_LIST_PATH} allows {', '.join(forbidden)}, from modules that are never allowed")
    return listed


def _resolve(name: str):
    module, _, attr = name.rpartition(".")
    if not module:
        return None
    try:
        with warnings.catch_warnings():  # numpy 2 warns on the numpy.core alias numpy 1 pickles name
            warnings.simplefilter("ignore", DeprecationWarning)
            return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def allowed_global(name: str, allow: AllowList | None = None):
    """The object a referenced global stands for when the allow-list admits it, else None."""
    import torch

    allow = allow or allow_list()
    if allow.is_never(name):
        return None
    if name in allow.classes:
        obj = _resolve(name)
        return obj if isinstance(obj, type) else None
    if name in allow.functions:
        obj = _resolve(name)
        return obj if callable(obj) and not isinstance(obj, type) else None
    module, _, attr = name.rpartition(".")
    if any((module + ".").startswith(prefix) for prefix in allow.module_class_prefixes):
        obj = _resolve(name)
        if (isinstance(obj, type) and issubclass(obj, torch.nn.Module) and obj.__module__ == module
                and obj.__qualname__ == attr):
            return obj
    return None


@lru_cache(maxsize=1)
def _listed_classes() -> tuple:
    # Registered on every load: numpy builds its dtype classes while unpickling, so they are never in the scan.
    return tuple((obj, name) for name in allow_list().classes if (obj := allowed_global(name)) is not None)


def _global_name(entry) -> tuple[object, str]:
    if isinstance(entry, tuple):
        return entry[0], str(entry[1])
    return entry, f"{getattr(entry, '__module__', '')}.{getattr(entry, '__qualname__', getattr(entry, '__name__', ''))}"


def _registered_elsewhere() -> list[str]:
    """Globals something else in this process marked safe for every weights_only load, torch's own aside.

    ``get_unsafe_globals_in_checkpoint`` leaves them out and ``torch.load(weights_only=True)`` accepts
    them, so while any are registered a checkpoint could reference them unseen.
    """
    import torch

    foreign = []
    for entry in torch.serialization.get_safe_globals():
        obj, name = _global_name(entry)
        module = getattr(obj, "__module__", "") or ""
        if name.startswith("torch.") and module.startswith("torch"):
            continue  # torch's own registrations
        if isinstance(obj, type) and (
                (module == "builtins" and issubclass(obj, BaseException)) or name in {
                    "traceback.StackSummary", "traceback.FrameSummary"}):
            continue  # exception types torch registers for its own error pickles
        foreign.append(name)
    return sorted(set(foreign))


def _check_format(path: Path) -> None:
    if not path.is_file():
        raise UserFacingError(f"refusing checkpoint {path}: no such file")
    if path.stat().st_size == 0:
        raise UserFacingError(f"refusing checkpoint {path}: the file is empty (0 bytes), not a torch checkpoint")
    with open(path, "rb") as handle:
        magic = handle.read(len(_ZIP_MAGIC))
    if magic != _ZIP_MAGIC:
        raise UserFacingError(
            f"refusing checkpoint {path}: it is not a zip-format torch checkpoint (the format torch.save writes). "
            "A raw pickle, a legacy-format checkpoint or any other file is refused: only a full unpickler, which "
            "runs whatever code the file names, could read it"
        )


def _unpickler_reason(exc: BaseException) -> str:
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        lines = [line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()]
        if lines:
            return lines[0]
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def safe_load_checkpoint(path: str | os.PathLike):
    """Load a checkpoint with torch's restricted unpickler under the allow-list; refuse it with UserFacingError.

    Refused: anything but a zip-format ``torch.save`` file (raw or legacy pickles, empty or text
    files, TorchScript), a checkpoint that references a global outside the allow-list, and one the
    restricted unpickler cannot read. Nothing in a refused file is executed.
    """
    import torch

    path = Path(path)
    _check_format(path)
    allow = allow_list()
    with _load_lock:
        foreign = _registered_elsewhere()
        if foreign:
            raise UserFacingError(
                f"refusing checkpoint {path}: this process has marked {', '.join(foreign)} safe for every restricted "
                "load, outside the checkpoint allow-list, so the check cannot see whether the file uses them"
            )
        try:
            referenced = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path))))
        except Exception as exc:  # noqa: BLE001 - a corrupt zip, a TorchScript archive, no data.pkl
            raise UserFacingError(f"refusing checkpoint {path}: it is not a readable torch.save checkpoint "
                                  f"({_unpickler_reason(exc)})") from None
        entries, refused = list(_listed_classes()), []
        for name in referenced:
            obj = allowed_global(name, allow)
            if obj is None:
                refused.append(name)
            else:
                entries.append((obj, name))
        if refused:
            raise UserFacingError(
                f"refusing checkpoint {path}: it references {', '.join(refused)}, which a detector checkpoint never "
                "needs; a checkpoint that names code to run, or anything else outside the allow-list, is refused "
                f"even when registered (allowed: torch's weights_only types and the names in {ALLOW_LIST_PATH})"
            )
        try:
            with torch.serialization.safe_globals(entries):
                return torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - UnpicklingError, a truncated archive, a bad storage
            raise UserFacingError(f"refusing checkpoint {path}: the restricted unpickler could not load it "
                                  f"({_unpickler_reason(exc)})") from None


def detector_model(checkpoint, path: str | os.PathLike):
    """The detection network in a restricted-loaded ultralytics checkpoint (``ema`` if set, else ``model``).

    Refused with UserFacingError unless it is a ``torch.nn.Module`` with class names and a plain
    detection head (not segmentation, pose, oriented boxes or classification).
    """
    import torch

    if not isinstance(checkpoint, dict):
        raise UserFacingError(f"refusing checkpoint {path}: it holds a {type(checkpoint).__name__}, "
                              "not an ultralytics checkpoint (a dict with the network under 'model')")
    model = checkpoint.get("ema") if checkpoint.get("ema") is not None else checkpoint.get("model")
    if not isinstance(model, torch.nn.Module):
        raise UserFacingError(f"refusing checkpoint {path}: it has no network under 'model' or 'ema'")
    names = getattr(model, "names", None)
    if isinstance(names, (list, tuple)):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise UserFacingError(f"refusing checkpoint {path}: its network has no class names")
    from ultralytics.nn.modules.head import Detect

    heads = [m for m in model.modules() if isinstance(m, Detect)]
    if not heads:
        raise UserFacingError(f"refusing checkpoint {path}: its network has no detection head")
    head = type(heads[-1]).__name__
    if head not in DETECT_HEADS:
        raise UserFacingError(f"refusing checkpoint {path}: its head is {head}; a plain detection model is needed")
    return model


def inspect_detector_checkpoint(path: str | os.PathLike):
    """Restricted-load ``path`` and return its detection network; UserFacingError when it is not a safe detector."""
    return detector_model(safe_load_checkpoint(path), path)
