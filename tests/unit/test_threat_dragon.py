import copy
import json

import pytest

from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.library import list_templates, load_template
from secmlops_core.pipeline.threat_dragon import export_threat_dragon, import_threat_dragon, infer_kind


@pytest.mark.parametrize("template_id", sorted(list_templates()))
def test_export_then_import_is_lossless(template_id):
    pipeline = load_template(template_id)
    model = json.loads(json.dumps(export_threat_dragon(pipeline)))
    again, report = import_threat_dragon(model)
    assert again == pipeline
    assert report.guesses == [] and report.skipped == []


def test_export_shape_is_threat_dragon_v2(pds_pipeline):
    model = export_threat_dragon(pds_pipeline)
    assert model["version"].startswith("2.")
    diagram = model["detail"]["diagrams"][0]
    assert diagram["diagramType"] == "STRIDE"
    types = [cell["data"]["type"] for cell in diagram["cells"]]
    assert types.count("tm.Flow") == len(pds_pipeline.flows)
    assert types.count("tm.BoundaryBox") == len(pds_pipeline.zones)
    assert sum(t in ("tm.Actor", "tm.Process", "tm.Store") for t in types) == len(pds_pipeline.stages)
    ids = {cell["id"] for cell in diagram["cells"]}
    for cell in diagram["cells"]:
        if cell["shape"] == "flow":
            assert cell["source"]["cell"] in ids and cell["target"]["cell"] in ids


def _strip_project_fields(model: dict) -> dict:
    model = copy.deepcopy(model)
    model["summary"].pop("secmlops", None)
    for cell in model["detail"]["diagrams"][0]["cells"]:
        cell["data"].pop("secmlops", None)
    return model


def test_plain_threat_dragon_model_gets_kinds_inferred_and_reported(pds_pipeline):
    plain = _strip_project_fields(export_threat_dragon(pds_pipeline))
    imported, report = import_threat_dragon(plain)
    assert len(imported.stages) == len(pds_pipeline.stages)
    assert len(imported.flows) == len(pds_pipeline.flows)
    by_name = {stage.name: stage.kind for stage in imported.stages}
    assert all(by_name[stage.name] == stage.kind for stage in pds_pipeline.stages)
    assert len(report.guesses) >= len(pds_pipeline.stages)
    assert imported.zones, "boundary boxes become zones"


@pytest.mark.parametrize("name, shape, expected", [
    ("Detector training", "process", "training"),
    ("Crowd labeling vendor", "process", "labeling_crowd"),
    ("S3 bucket", "store", "data_store"),
    ("Something else", "process", "inference_runtime"),
    ("Audit log", "store", "data_store"),
])
def test_kind_inference(name, shape, expected):
    assert infer_kind(name, shape, {})[0] == expected


def test_boundary_lines_and_unknown_cells_are_reported_not_fatal(pds_pipeline):
    model = _strip_project_fields(export_threat_dragon(pds_pipeline))
    cells = model["detail"]["diagrams"][0]["cells"]
    cells.append({"id": "curve", "shape": "trust-boundary-curve", "data": {"type": "tm.Boundary", "name": "B"}})
    cells.append({"id": "txt", "shape": "td-text-block", "data": {"type": "tm.Text", "name": "note"}})
    cells.append({"id": "f", "shape": "flow", "source": {"cell": "nope"}, "target": {"cell": "curve"},
                  "data": {"type": "tm.Flow", "name": "broken"}})
    _, report = import_threat_dragon(model)
    assert len(report.skipped) == 3


def test_bidirectional_flow_is_split():
    model = {"summary": {"title": "Tiny"}, "detail": {"diagrams": [{"cells": [
        {"id": "1", "shape": "process", "position": {"x": 0, "y": 0}, "data": {"type": "tm.Process", "name": "API"}},
        {"id": "2", "shape": "store", "position": {"x": 300, "y": 0}, "data": {"type": "tm.Store", "name": "Database"}},
        {"id": "3", "shape": "flow", "source": {"cell": "1"}, "target": {"cell": "2"},
         "data": {"type": "tm.Flow", "name": "query", "isBidirectional": True, "isEncrypted": True}}]}]}}
    pipeline, report = import_threat_dragon(model)
    assert [(f.source, f.target) for f in pipeline.flows] == [("api", "database"), ("database", "api")]
    assert pipeline.flows[0].properties == {"encrypted": True}
    assert any("bidirectional" in g for g in report.guesses)


@pytest.mark.parametrize("model, message", [
    ({"summary": {}, "detail": {"diagrams": []}}, "no diagrams"),
    ({"summary": {}, "detail": {"diagrams": [{"diagramJson": {}}]}}, "v1 model"),
    ({"title": "x"}, "not a Threat Dragon model"),
])
def test_unusable_models_are_explained(model, message):
    with pytest.raises(ValidationFailed, match=message):
        import_threat_dragon(model)
