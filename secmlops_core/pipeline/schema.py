"""The published JSON Schema of the pipeline file format, built from the vocabulary catalogs."""

from __future__ import annotations

from secmlops_core.catalog.vocabulary import property_specs, stage_kinds
from secmlops_core.pipeline.model import FORMAT_NAME, FORMAT_VERSION, TRUST_LEVELS
from secmlops_core.pipeline.validate import (
    ID_PATTERN,
    MAX_DESCRIPTION_CHARS,
    MAX_FLOWS,
    MAX_NAME_CHARS,
    MAX_STAGES,
    MAX_ZONES,
)


def _property_schema(applies_to: str) -> dict:
    properties = {}
    for name, spec in property_specs()[applies_to].items():
        if spec.type == "bool":
            schema = {"type": "boolean"}
        elif spec.type == "enum":
            schema = {"enum": list(spec.values)}
        else:
            schema = {"type": "string", "maxLength": 2000}
        properties[name] = {**schema, "description": spec.meaning, "default": spec.default}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def pipeline_json_schema() -> dict:
    """JSON Schema (draft 2020-12) for pipeline files, version 1."""
    identifier = {"type": "string", "pattern": ID_PATTERN.pattern}
    name = {"type": "string", "maxLength": MAX_NAME_CHARS}
    description = {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:secmlops:schema:pipeline:1",
        "title": "SecMLOps pipeline",
        "description": "An MLOps pipeline as stages, flows and trust zones (format version 1). "
                       "Cross-references (zones of stages, ends of flows) and unique ids are checked "
                       "by the loader beyond this schema.",
        "type": "object",
        "required": ["version", "id", "name"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": FORMAT_NAME},
            "version": {"const": FORMAT_VERSION},
            "id": identifier,
            "name": name,
            "description": description,
            "zones": {"type": "array", "maxItems": MAX_ZONES, "items": {
                "type": "object", "required": ["id", "name"], "additionalProperties": False,
                "properties": {"id": identifier, "name": name, "trust": {"enum": list(TRUST_LEVELS)},
                               "description": description}}},
            "stages": {"type": "array", "maxItems": MAX_STAGES, "items": {
                "type": "object", "required": ["id", "name", "kind"], "additionalProperties": False,
                "properties": {
                    "id": identifier, "name": name, "kind": {"enum": list(stage_kinds())},
                    "zone": identifier, "description": description,
                    "properties": _property_schema("stage"),
                    "position": {"type": "object", "required": ["x", "y"], "additionalProperties": False,
                                 "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}}}},
            "flows": {"type": "array", "maxItems": MAX_FLOWS, "items": {
                "type": "object", "required": ["id", "source", "target"], "additionalProperties": False,
                "properties": {"id": identifier, "source": identifier, "target": identifier, "name": name,
                               "description": description, "properties": _property_schema("flow")}}},
        },
    }
