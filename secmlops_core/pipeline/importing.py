"""Read a pipeline from any supported file: the project format or Threat Dragon v2."""

from __future__ import annotations

from pathlib import Path

from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.formats import detect_format, read_bounded
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.pipeline.threat_dragon import ImportReport, import_threat_dragon, looks_like_threat_dragon
from secmlops_core.pipeline.validate import parse_pipeline
from secmlops_core.safe_text import parse_text
from secmlops_core.settings import get_settings


def max_file_bytes() -> int:
    """The configured size limit for pipeline files."""
    return int(get_settings().max_pipeline_file_mb * 1024 * 1024)


def read_any_pipeline_bytes(data: bytes, name: str) -> tuple[Pipeline, ImportReport | None]:
    """Parse uploaded bytes; the report is set when the input was a Threat Dragon model."""
    fmt = detect_format(name)
    document = parse_text(data, fmt, name, max_file_bytes())
    if fmt == "json" and looks_like_threat_dragon(document):
        try:
            return import_threat_dragon(document)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.problems, name) from None
    try:
        return parse_pipeline(document), None
    except ValidationFailed as exc:
        raise ValidationFailed(exc.problems, name) from None


def read_any_pipeline(path: Path | str) -> tuple[Pipeline, ImportReport | None]:
    """Read a pipeline file from disk, checking its size before reading it."""
    path = Path(path)
    detect_format(path.name)
    return read_any_pipeline_bytes(read_bounded(path, max_file_bytes()), path.name)
