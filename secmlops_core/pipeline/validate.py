"""Turn a parsed pipeline document into a Pipeline, or explain every problem in it.

Each problem names the element (stage/flow/zone id, or its position when the id is
unusable). Nothing is built unless the whole document is valid.
"""

from __future__ import annotations

import re

from secmlops_core.catalog.vocabulary import property_specs, stage_kinds
from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.model import (
    FORMAT_NAME,
    FORMAT_VERSION,
    TRUST_LEVELS,
    Flow,
    Pipeline,
    Stage,
    Zone,
)

MAX_STAGES = 5_000
MAX_FLOWS = 20_000
MAX_ZONES = 200
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 5_000
MAX_PROBLEMS = 200
ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$")

TOP_KEYS = {"format", "version", "id", "name", "description", "zones", "stages", "flows"}
ZONE_KEYS = {"id", "name", "trust", "description"}
STAGE_KEYS = {"id", "name", "kind", "zone", "properties", "description", "position"}
FLOW_KEYS = {"id", "source", "target", "name", "properties", "description"}


class _Problems(list):
    def add(self, message: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(message)
        elif len(self) == MAX_PROBLEMS:
            self.append("too many problems; stopped checking")


def _text(value, where: str, field_name: str, problems: _Problems, *, required: bool,
          limit: int = MAX_NAME_CHARS) -> str:
    if value is None:
        if required:
            problems.add(f"{where}: '{field_name}' is missing")
        return ""
    if not isinstance(value, str):
        problems.add(f"{where}: '{field_name}' must be text, got {type(value).__name__}")
        return ""
    if len(value) > limit:
        problems.add(f"{where}: '{field_name}' is longer than {limit:,} characters")
    return value


def _identifier(value, where: str, problems: _Problems) -> str | None:
    if value is None:
        problems.add(f"{where}: 'id' is missing")
        return None
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        problems.add(f"{where}: 'id' must be 1-64 characters of letters, digits, '_', '.', ':' or '-'"
                     f" (got {str(value)[:80]!r})")
        return None
    return value


def _unknown_keys(entry: dict, allowed: set[str], where: str, problems: _Problems) -> None:
    for key in entry:
        if key not in allowed:
            problems.add(f"{where}: unknown field {str(key)[:80]!r} (allowed: {', '.join(sorted(allowed))})")


def _properties(raw, applies_to: str, where: str, problems: _Problems) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(f"{where}: 'properties' must be a mapping of name to value")
        return {}
    specs = property_specs()[applies_to]
    clean = {}
    for name, value in raw.items():
        spec = specs.get(name) if isinstance(name, str) else None
        if spec is None:
            problems.add(f"{where}: unknown {applies_to} property {str(name)[:80]!r}"
                         f" (known: {', '.join(specs)})")
            continue
        error = spec.check(value)
        if error:
            problems.add(f"{where}: property '{name}' {error}")
        else:
            clean[name] = value
    return dict(sorted(clean.items()))


def _position(raw, where: str, problems: _Problems) -> tuple[float, float] | None:
    if raw is None:
        return None
    if isinstance(raw, dict) and set(raw) == {"x", "y"} and all(
        isinstance(raw[k], (int, float)) and not isinstance(raw[k], bool) and abs(raw[k]) < 1e7
        for k in ("x", "y")
    ):
        return (float(raw["x"]), float(raw["y"]))
    problems.add(f"{where}: 'position' must be {{x: number, y: number}}")
    return None


def _list(document: dict, key: str, limit: int, problems: _Problems) -> list:
    value = document.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(f"'{key}' must be a list")
        return []
    if len(value) > limit:
        problems.add(f"'{key}' has {len(value):,} entries; the limit is {limit:,}")
        return []
    return value


def parse_pipeline(document) -> Pipeline:
    """Validate a parsed document (dict) and build the Pipeline; raises ValidationFailed."""
    problems = _Problems()
    if not isinstance(document, dict):
        raise ValidationFailed(["the file must contain a mapping at the top level"
                                f" (found {type(document).__name__})"], "pipeline")
    if document.get("format") is not None and document.get("format") != FORMAT_NAME:
        problems.add(f"'format' must be {FORMAT_NAME!r}")
    version = document.get("version")
    if version is None:
        problems.add(f"'version' is missing (this program reads version {FORMAT_VERSION})")
    elif version != FORMAT_VERSION or isinstance(version, bool):
        problems.add(f"'version' is {str(version)[:40]!r}; this program reads version {FORMAT_VERSION}")
    _unknown_keys(document, TOP_KEYS, "pipeline", problems)
    pipeline_id = _identifier(document.get("id"), "pipeline", problems) or ""
    name = _text(document.get("name"), "pipeline", "name", problems, required=True)
    description = _text(document.get("description"), "pipeline", "description", problems,
                        required=False, limit=MAX_DESCRIPTION_CHARS)

    zones = []
    for entry, zone_id, where in _entries(document, "zones", "zone", MAX_ZONES, ZONE_KEYS, problems):
        trust = entry.get("trust", "medium")
        if not isinstance(trust, str) or trust not in TRUST_LEVELS:
            problems.add(f"{where}: 'trust' must be one of {', '.join(TRUST_LEVELS)}")
        zones.append(Zone(id=zone_id or "", name=_text(entry.get("name"), where, "name", problems, required=True),
                          trust=trust if isinstance(trust, str) and trust in TRUST_LEVELS else "medium",
                          description=_text(entry.get("description"), where, "description", problems,
                                            required=False, limit=MAX_DESCRIPTION_CHARS)))
    zone_ids = _duplicates([z.id for z in zones if z.id], "zone", problems)

    kinds = stage_kinds()
    stages = []
    for entry, stage_id, where in _entries(document, "stages", "stage", MAX_STAGES, STAGE_KEYS, problems):
        kind = entry.get("kind")
        if kind is None:
            problems.add(f"{where}: 'kind' is missing")
        elif not isinstance(kind, str) or kind not in kinds:
            problems.add(f"{where}: unknown kind {str(kind)[:80]!r}")
        zone = entry.get("zone")
        if zone is not None and (not isinstance(zone, str) or zone not in zone_ids):
            problems.add(f"{where}: zone {str(zone)[:80]!r} is not defined in 'zones'")
        stages.append(Stage(
            id=stage_id or "", name=_text(entry.get("name"), where, "name", problems, required=True),
            kind=kind if isinstance(kind, str) else "", zone=zone if isinstance(zone, str) else None,
            properties=_properties(entry.get("properties"), "stage", where, problems),
            description=_text(entry.get("description"), where, "description", problems, required=False,
                              limit=MAX_DESCRIPTION_CHARS),
            position=_position(entry.get("position"), where, problems)))
    stage_ids = _duplicates([s.id for s in stages if s.id], "stage", problems)

    flows = []
    for entry, flow_id, where in _entries(document, "flows", "flow", MAX_FLOWS, FLOW_KEYS, problems):
        ends = []
        for end in ("source", "target"):
            value = entry.get(end)
            if value is None:
                problems.add(f"{where}: '{end}' is missing")
            elif not isinstance(value, str) or value not in stage_ids:
                problems.add(f"{where}: {end} {str(value)[:80]!r} is not a stage (dangling flow)")
            ends.append(value if isinstance(value, str) else "")
        if ends[0] and ends[0] == ends[1]:
            problems.add(f"{where}: source and target are the same stage '{ends[0]}' (self-loop)")
        flows.append(Flow(id=flow_id or "", source=ends[0], target=ends[1],
                          name=_text(entry.get("name"), where, "name", problems, required=False),
                          properties=_properties(entry.get("properties"), "flow", where, problems),
                          description=_text(entry.get("description"), where, "description", problems,
                                            required=False, limit=MAX_DESCRIPTION_CHARS)))
    _duplicates([f.id for f in flows if f.id], "flow", problems)

    if problems:
        raise ValidationFailed(list(problems), "pipeline")
    return Pipeline(id=pipeline_id, name=name, description=description, zones=zones, stages=stages, flows=flows)


def _entries(document: dict, key: str, what: str, limit: int, allowed: set[str], problems: _Problems):
    """Each mapping of the list ``key``, with its checked id (None when invalid) and how problems
    name it; entries that are not mappings are reported and skipped."""
    for index, entry in enumerate(_list(document, key, limit, problems)):
        where = f"{what} #{index + 1}"
        if not isinstance(entry, dict):
            problems.add(f"{where}: must be a mapping")
            continue
        element_id = _identifier(entry.get("id"), where, problems)
        where = f"{what} '{element_id}'" if element_id else where
        _unknown_keys(entry, allowed, where, problems)
        yield entry, element_id, where


def _duplicates(ids: list[str], what: str, problems: _Problems) -> set[str]:
    seen: set[str] = set()
    reported: set[str] = set()
    for item in ids:
        if item in seen and item not in reported:
            problems.add(f"{what} id '{item}' is used more than once")
            reported.add(item)
        seen.add(item)
    return seen
