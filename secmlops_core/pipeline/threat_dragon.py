"""Exchange with OWASP Threat Dragon v2 JSON models.

Import maps actors, processes and stores to stages, flows to flows and trust-boundary
boxes to zones (a stage belongs to the box that contains its centre). Kinds are inferred
from names, element types and properties; every guess is reported. Export writes one
STRIDE diagram and keeps the project's kind and properties in extra ``secmlops`` fields of
each cell's data, so a round trip through this module loses nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from secmlops_core.catalog.vocabulary import stage_kinds
from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.formats import to_document
from secmlops_core.pipeline.model import Flow, Pipeline, Stage, Zone
from secmlops_core.pipeline.validate import ID_PATTERN, parse_pipeline

TD_VERSION = "2.2.0"
NODE_SIZE = {"actor": (160, 80), "process": (100, 100), "store": (160, 80)}
DEFAULT_KIND_BY_SHAPE = {"actor": "external_user", "process": "inference_runtime", "store": "data_store"}
_SHAPES = {"tm.Actor": "actor", "tm.Process": "process", "tm.Store": "store"}
_BOUNDARY_TYPES = {"tm.BoundaryBox", "tm.Boundary"}


@dataclass
class ImportReport:
    """What an import had to guess or skip."""

    guesses: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def looks_like_threat_dragon(document) -> bool:
    """True for a parsed document shaped like a Threat Dragon model."""
    return isinstance(document, dict) and "summary" in document and "detail" in document


def _slug(text: str, taken: set[str], fallback: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", (text or "").lower()).strip("_")[:48] or fallback
    if not ID_PATTERN.match(base):
        base = fallback
    candidate, counter = base, 2
    while candidate in taken:
        candidate = f"{base}_{counter}"
        counter += 1
    taken.add(candidate)
    return candidate


def infer_kind(name: str, shape: str, data: dict) -> tuple[str, str]:
    """(kind, reason): a stage kind from the element's name keywords, shape and flags."""
    text = re.sub(r"\([^)]*\)", " ", (name or "").lower())
    best, best_score = None, (0, -1)
    for kind in stage_kinds().values():
        if kind.dfd != shape and not (shape == "process" and kind.dfd == "actor"):
            continue
        ends = [text.rfind(keyword) + len(keyword) for keyword in kind.keywords if keyword in text]
        # More matched keywords first; on a tie the match nearest the end of the name
        # (the head noun in English: "detector training" is training) wins.
        score = (len(ends), max(ends, default=-1))
        if ends and score > best_score:
            best, best_score = kind.id, score
    if best:
        return best, f"name matches keywords of '{best}'"
    if shape == "store" and data.get("isALog"):
        return "monitoring", "a store marked as a log"
    return DEFAULT_KIND_BY_SHAPE[shape], f"default for a Threat Dragon {shape}"


def _cells(document: dict) -> list[dict]:
    diagrams = document.get("detail", {}).get("diagrams") or []
    if not isinstance(diagrams, list) or not diagrams:
        raise ValidationFailed(["the Threat Dragon model has no diagrams"], "Threat Dragon model")
    cells = []
    for diagram in diagrams:
        if isinstance(diagram, dict) and isinstance(diagram.get("cells"), list):
            cells.extend(c for c in diagram["cells"] if isinstance(c, dict))
        elif isinstance(diagram, dict) and "diagramJson" in diagram:
            raise ValidationFailed(["this is a Threat Dragon v1 model; open and save it in Threat Dragon v2 first"],
                                   "Threat Dragon model")
    return cells


def import_threat_dragon(document: dict) -> tuple[Pipeline, ImportReport]:
    """Build a Pipeline from a Threat Dragon v2 model; raises ValidationFailed when unusable."""
    if not looks_like_threat_dragon(document):
        raise ValidationFailed(["not a Threat Dragon model (expected 'summary' and 'detail')"], "Threat Dragon model")
    report = ImportReport()
    summary = document.get("summary") or {}
    title = str(summary.get("title") or "Imported threat model")[:200]
    taken: set[str] = set()
    cell_to_stage: dict[str, Stage] = {}
    centres: dict[str, tuple[float, float]] = {}
    boundaries: list[tuple[Zone, tuple[float, float, float, float]]] = []
    flows_raw: list[dict] = []
    kinds = stage_kinds()

    for cell in _cells(document):
        data = cell.get("data") if isinstance(cell.get("data"), dict) else {}
        cell_type = data.get("type") or ""
        name = str(data.get("name") or "")[:200]
        if cell_type in _SHAPES:
            shape = _SHAPES[cell_type]
            extra = data.get("secmlops") if isinstance(data.get("secmlops"), dict) else {}
            kind = extra.get("kind")
            if kind not in kinds:
                kind, reason = infer_kind(name, shape, data)
                report.guesses.append(f"'{name or cell.get('id')}': kind {kind} ({reason})")
            stage_id = extra.get("id") if isinstance(extra.get("id"), str) and extra.get("id") not in taken \
                and ID_PATTERN.match(extra.get("id")) else None
            if stage_id:
                taken.add(stage_id)
            else:
                stage_id = _slug(name, taken, f"stage_{len(cell_to_stage) + 1}")
            properties = dict(extra.get("properties") or {}) if extra else _guess_stage_properties(data, report, name)
            position = cell.get("position") or {}
            x, y = float(position.get("x", 0) or 0), float(position.get("y", 0) or 0)
            width, height = NODE_SIZE[shape]
            size = cell.get("size") or {}
            centres[stage_id] = (x + float(size.get("width", width) or width) / 2,
                                 y + float(size.get("height", height) or height) / 2)
            cell_to_stage[str(cell.get("id"))] = Stage(
                id=stage_id, name=name or stage_id, kind=kind, properties=properties,
                description=str(data.get("description") or "")[:5000], position=(x, y),
                zone=extra.get("zone") if extra else None)
        elif cell_type in _BOUNDARY_TYPES:
            if cell_type == "tm.Boundary" or cell.get("shape") == "trust-boundary-curve":
                report.skipped.append(f"boundary line '{name or cell.get('id')}' (only boundary boxes become zones)")
                continue
            position, size = cell.get("position") or {}, cell.get("size") or {}
            box = (float(position.get("x", 0) or 0), float(position.get("y", 0) or 0),
                   float(size.get("width", 0) or 0), float(size.get("height", 0) or 0))
            extra = data.get("secmlops") if isinstance(data.get("secmlops"), dict) else {}
            zone_id = _slug(extra.get("id") or name, {z.id for z, _ in boundaries}, f"zone_{len(boundaries) + 1}")
            trust = extra.get("trust") if extra.get("trust") in ("low", "medium", "high") else "medium"
            boundaries.append((Zone(id=zone_id, name=name or zone_id, trust=trust,
                                    description=str(data.get("description") or "")[:5000]), box))
        elif cell_type == "tm.Flow" or cell.get("shape") == "flow":
            flows_raw.append(cell)
        elif cell_type:
            report.skipped.append(f"element '{name or cell.get('id')}' of type {cell_type}")

    for stage in cell_to_stage.values():
        if stage.zone and any(z.id == stage.zone for z, _ in boundaries):
            continue
        stage.zone = None
        cx, cy = centres[stage.id]
        containing = [(w * h, zone) for zone, (x, y, w, h) in boundaries if x <= cx <= x + w and y <= cy <= y + h]
        if containing:
            stage.zone = min(containing, key=lambda item: item[0])[1].id

    flows: list[Flow] = []
    flow_ids: set[str] = set()
    for cell in flows_raw:
        data = cell.get("data") if isinstance(cell.get("data"), dict) else {}
        source = cell_to_stage.get(str((cell.get("source") or {}).get("cell")))
        target = cell_to_stage.get(str((cell.get("target") or {}).get("cell")))
        name = str(data.get("name") or "")[:200]
        if not source or not target or source is target:
            report.skipped.append(f"flow '{name or cell.get('id')}' (an end is not a process, store or actor)")
            continue
        extra = data.get("secmlops") if isinstance(data.get("secmlops"), dict) else {}
        properties = dict(extra.get("properties") or {}) if extra else {
            key: True for key, flag in (("encrypted", "isEncrypted"), ("public_network", "isPublicNetwork"))
            if data.get(flag)}
        if not extra and data.get("protocol"):
            properties["protocol"] = str(data["protocol"])[:200]
        flow_id = extra.get("id") if isinstance(extra.get("id"), str) and extra.get("id") not in flow_ids \
            and ID_PATTERN.match(extra.get("id")) else _slug(f"{source.id}_to_{target.id}", flow_ids, f"flow_{len(flows) + 1}")
        flow_ids.add(flow_id)
        flows.append(Flow(id=flow_id, source=source.id, target=target.id, name=name, properties=properties,
                          description=str(data.get("description") or "")[:5000]))
        if data.get("isBidirectional"):
            reverse_id = _slug(f"{target.id}_to_{source.id}", flow_ids, f"flow_{len(flows) + 1}")
            flows.append(Flow(id=reverse_id, source=target.id, target=source.id, name=name,
                              properties=dict(properties)))
            report.guesses.append(f"flow '{name or flow_id}' is bidirectional: split into two flows")

    summary_extra = summary.get("secmlops") if isinstance(summary.get("secmlops"), dict) else {}
    pipeline_id = summary_extra.get("id") if isinstance(summary_extra.get("id"), str) and \
        ID_PATTERN.match(summary_extra.get("id")) else _slug(title, set(), "imported")
    pipeline = Pipeline(id=pipeline_id, name=title, description=str(summary.get("description") or "")[:5000],
                        zones=[zone for zone, _ in boundaries], stages=list(cell_to_stage.values()), flows=flows)
    # Validate exactly as a file in the project format would be.
    return parse_pipeline(to_document(pipeline)), report


def _guess_stage_properties(data: dict, report: ImportReport, name: str) -> dict:
    properties = {}
    if data.get("isEncrypted"):
        properties["encrypted"] = True
    if data.get("isSigned"):
        properties["signed_artifacts"] = True
    if data.get("isWebApplication"):
        properties["internet_facing"] = True
        properties["exposes_api"] = True
        report.guesses.append(f"'{name}': internet_facing and exposes_api (marked as a web application)")
    return properties


def export_threat_dragon(pipeline: Pipeline) -> dict:
    """A Threat Dragon v2 model with one STRIDE diagram for the pipeline."""
    kinds = stage_kinds()
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"secmlops:{pipeline.id}")
    cell_id = {stage.id: str(uuid.uuid5(namespace, f"stage:{stage.id}")) for stage in pipeline.stages}
    cells: list[dict] = []
    positions = {}
    for index, stage in enumerate(pipeline.stages):
        shape = kinds[stage.kind].dfd
        width, height = NODE_SIZE[shape]
        x, y = stage.position or (float((index % 8) * 220), float((index // 8) * 180))
        positions[stage.id] = (x, y, width, height)
        data = {"type": {"actor": "tm.Actor", "process": "tm.Process", "store": "tm.Store"}[shape],
                "name": stage.name, "description": stage.description, "outOfScope": False,
                "reasonOutOfScope": "", "hasOpenThreats": False, "threats": [],
                "secmlops": {"id": stage.id, "kind": stage.kind, "zone": stage.zone,
                             "properties": dict(stage.properties)}}
        if shape == "store":
            data.update({"isALog": stage.kind == "monitoring", "isEncrypted": bool(stage.properties.get("encrypted")),
                         "isSigned": bool(stage.properties.get("signed_artifacts")), "storesCredentials": False})
        elif shape == "process":
            data.update({"isWebApplication": bool(stage.properties.get("internet_facing")),
                         "handlesCardPayment": False, "handlesGoodsOrServices": False, "privilegeLevel": ""})
        else:
            data["providesAuthentication"] = False
        cells.append({"id": cell_id[stage.id], "shape": shape, "zIndex": 10, "visible": True,
                      "position": {"x": x, "y": y}, "size": {"width": width, "height": height},
                      "attrs": {"text": {"text": stage.name}}, "data": data})
    for zone in pipeline.zones:
        members = [positions[s.id] for s in pipeline.stages if s.zone == zone.id]
        if not members:
            continue
        left = min(x for x, _, _, _ in members) - 30
        top = min(y for _, y, _, _ in members) - 40
        right = max(x + w for x, _, w, _ in members) + 30
        bottom = max(y + h for _, y, _, h in members) + 30
        cells.append({"id": str(uuid.uuid5(namespace, f"zone:{zone.id}")), "shape": "trust-boundary-box",
                      "zIndex": -1, "visible": True, "position": {"x": left, "y": top},
                      "size": {"width": right - left, "height": bottom - top},
                      "attrs": {"headerText": {"text": zone.name}},
                      "data": {"type": "tm.BoundaryBox", "name": zone.name, "description": zone.description,
                               "isTrustBoundary": True, "hasOpenThreats": False,
                               "secmlops": {"id": zone.id, "trust": zone.trust}}})
    for flow in pipeline.flows:
        cells.append({"id": str(uuid.uuid5(namespace, f"flow:{flow.id}")), "shape": "flow", "zIndex": 5,
                      "source": {"cell": cell_id[flow.source]}, "target": {"cell": cell_id[flow.target]},
                      "vertices": [], "labels": [flow.name] if flow.name else [],
                      "data": {"type": "tm.Flow", "name": flow.name, "description": flow.description,
                               "outOfScope": False, "reasonOutOfScope": "", "hasOpenThreats": False,
                               "isBidirectional": False, "isEncrypted": bool(flow.properties.get("encrypted")),
                               "isPublicNetwork": bool(flow.properties.get("public_network")),
                               "protocol": str(flow.properties.get("protocol", "")), "threats": [],
                               "secmlops": {"id": flow.id, "properties": dict(flow.properties)}}})
    return {
        "version": TD_VERSION,
        "summary": {"title": pipeline.name, "owner": "", "description": pipeline.description, "id": 0,
                    "secmlops": {"id": pipeline.id}},
        "detail": {"contributors": [], "reviewer": "", "diagramTop": 1, "threatTop": 0,
                   "diagrams": [{"id": 0, "title": pipeline.name, "diagramType": "STRIDE", "version": TD_VERSION,
                                 "placeholder": "", "thumbnail": "./public/content/images/thumbnail.stride.jpg",
                                 "cells": cells}]},
    }
