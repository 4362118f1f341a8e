"""Reading and writing pipeline files (YAML or JSON), with size and safety limits.

The text itself is parsed by :mod:`secmlops_core.safe_text` (size limit, YAML anchors and
aliases refused, clear problems); this module adds the pipeline format on top.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.pipeline.model import FORMAT_NAME, FORMAT_VERSION, Pipeline
from secmlops_core.pipeline.validate import parse_pipeline
from secmlops_core.safe_text import DEFAULT_MAX_BYTES, parse_text


def detect_format(name: str) -> str:
    """'yaml' or 'json' from a file name; UserFacingError for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    raise UserFacingError(f"{name}: unsupported file type {suffix or '(none)'}; use .yaml, .yml or .json")


def loads_pipeline(data: bytes | str, fmt: str, source: str = "file",
                   max_bytes: int = DEFAULT_MAX_BYTES) -> Pipeline:
    """Parse and validate a pipeline document in the project format."""
    document = parse_text(data, fmt, source, max_bytes)
    try:
        return parse_pipeline(document)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.problems, source) from None


def load_pipeline(path: Path | str, max_bytes: int = DEFAULT_MAX_BYTES) -> Pipeline:
    """Read a pipeline file from disk (format chosen by extension)."""
    path = Path(path)
    fmt = detect_format(path.name)
    return loads_pipeline(read_bounded(path, max_bytes), fmt, path.name, max_bytes)


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """A pipeline file's bytes, refusing before reading when it is larger than max_bytes."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ValidationFailed([f"the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB"],
                                   path.name)
        return path.read_bytes()
    except FileNotFoundError:
        raise UserFacingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserFacingError(f"{path}: is a directory, not a pipeline file") from None
    except PermissionError:
        raise UserFacingError(f"{path}: permission denied") from None


def to_document(pipeline: Pipeline) -> dict:
    """The canonical document form: fixed key order, empty fields and unset properties omitted."""
    def clean(entry: dict) -> dict:
        return {k: v for k, v in entry.items() if v not in (None, "", {}, [])}

    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "id": pipeline.id,
        "name": pipeline.name,
        **clean({"description": pipeline.description}),
        "zones": [clean({"id": z.id, "name": z.name, "trust": z.trust, "description": z.description})
                  for z in pipeline.zones],
        "stages": [clean({"id": s.id, "name": s.name, "kind": s.kind, "zone": s.zone,
                          "properties": dict(sorted(s.properties.items())), "description": s.description,
                          "position": {"x": s.position[0], "y": s.position[1]} if s.position else None})
                   for s in pipeline.stages],
        "flows": [clean({"id": f.id, "source": f.source, "target": f.target, "name": f.name,
                         "properties": dict(sorted(f.properties.items())), "description": f.description})
                  for f in pipeline.flows],
    }


def dumps_pipeline(pipeline: Pipeline, fmt: str = "yaml") -> str:
    """Serialize to the project format (YAML or JSON); loads_pipeline reverses it exactly."""
    document = to_document(pipeline)
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
