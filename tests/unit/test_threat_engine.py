"""The rule engine: each condition form, boundary crossings, suppression, scoring, stable ids."""

import copy

import pytest

from secmlops_core.catalog.loading import load_catalog
from secmlops_core.pipeline.validate import parse_pipeline
from secmlops_core.threats.engine import generate_threats, threat_id
from secmlops_core.threats.risk import BANDS, Risk, band_at_least, band_for, matrix_bands, residual

RULE = """
  - id: {id}
    title: Test rule {id}
    stride: {stride}
    applies_to: {applies_to}
    lifecycle: model_serving
    match: {match}
    description: A rule written for the engine tests only.
    nist: {{objective: integrity}}
    likelihood: 3
    impact: 3
    controls: [CTL-ACCESS-CONTROL]
"""


def catalog_with(*rules, disable_builtins=True):
    """The built-in catalog reduced to only the given test rules (id, applies_to, match)."""
    body = "rules:" + "".join(RULE.format(id=i, stride="T", applies_to=a, match=m) for i, a, m in rules)
    catalog = load_catalog(user_text=body)
    keep = {i for i, _, _ in rules}
    if disable_builtins:
        catalog = type(catalog)({k: v for k, v in catalog.rules.items() if k in keep}, catalog.controls,
                                catalog.roles, catalog.references, catalog.assumptions)
    return catalog


def pipeline(stages, flows=(), zones=("a", "b")):
    return parse_pipeline({
        "format": "secmlops-pipeline", "version": 1, "id": "t", "name": "Test",
        "zones": [{"id": z, "name": z, "trust": "low" if z == "b" else "high"} for z in zones],
        "stages": [{"name": s["id"], **s} for s in stages],
        "flows": [{"id": f"{s}_{t}", "source": s, "target": t, **extra} for s, t, extra in flows]})


def fired(catalog, pipe):
    return sorted((t.rule.id, t.element_id) for t in generate_threats(pipe, catalog).threats)


BASE = pipeline(
    stages=[{"id": "cam", "kind": "camera_fleet", "zone": "b", "properties": {"physically_exposed": True}},
            {"id": "api", "kind": "serving_endpoint", "zone": "a", "properties": {"internet_facing": True,
                                                                                  "data_origin": "user"}},
            {"id": "model", "kind": "inference_runtime", "zone": "a"}],
    flows=[("cam", "api", {"properties": {"data_kind": "raw_data"}}),
           ("api", "model", {"properties": {"data_kind": "predictions", "encrypted": True}})])


@pytest.mark.parametrize("match, expected", [
    ("{stage_kinds: [camera_fleet]}", [("R1", "cam")]),
    ("{property: internet_facing, equals: true}", [("R1", "api")]),
    ("{property: internet_facing, not_equals: true}", [("R1", "cam"), ("R1", "model")]),
    ("{property: data_origin, in: [user, crowd]}", [("R1", "api")]),
    ("{property: data_origin, not_in: [internal]}", [("R1", "api")]),
    ("{property: encrypted, equals: false}", [("R1", "api"), ("R1", "cam"), ("R1", "model")]),  # default
    ("{zone_trust: [low]}", [("R1", "cam")]),
    ("{incoming: {data_kinds: [predictions]}}", [("R1", "model")]),
    ("{outgoing: {target: {stage_kinds: [serving_endpoint]}}}", [("R1", "cam")]),
    ("{all: [{stage_kinds: [serving_endpoint, inference_runtime]}, {property: internet_facing, equals: false}]}",
     [("R1", "model")]),
    ("{any: [{stage_kinds: [camera_fleet]}, {property: internet_facing, equals: true}]}", [("R1", "api"), ("R1", "cam")]),
    ("{stage_kinds: [camera_fleet, serving_endpoint], not: {property: physically_exposed, equals: true}}",
     [("R1", "api")]),
])
def test_stage_condition_forms(match, expected):
    assert fired(catalog_with(("R1", "stage", match)), BASE) == expected


@pytest.mark.parametrize("match, expected", [
    ("{data_kinds: [raw_data]}", [("R1", "cam_api")]),
    ("{source_kinds: [serving_endpoint]}", [("R1", "api_model")]),
    ("{target_kinds: [serving_endpoint]}", [("R1", "cam_api")]),
    ("{crosses_boundary: true}", [("R1", "cam_api")]),
    ("{crosses_boundary: false}", [("R1", "api_model")]),
    ("{property: encrypted, equals: true}", [("R1", "api_model")]),
    ("{source: {property: physically_exposed, equals: true}}", [("R1", "cam_api")]),
    ("{target: {stage_kinds: [inference_runtime]}, not: {property: encrypted, equals: false}}", [("R1", "api_model")]),
])
def test_flow_condition_forms(match, expected):
    assert fired(catalog_with(("R1", "flow", match)), BASE) == expected


def test_explanations_name_the_properties_and_defaults():
    catalog = catalog_with(("R1", "flow", "{crosses_boundary: true, source: {property: physically_exposed, equals: true},"
                                          " property: encrypted, equals: false}"))
    (threat,) = generate_threats(BASE, catalog).threats
    assert threat.because == ("crosses a trust boundary", "encrypted = false (default)",
                              "source physically_exposed = true")
    assert threat.crosses_boundary and threat.stage_ids == ("cam", "api")


def test_builtin_rules_on_boundary_crossing_flows():
    threats = generate_threats(BASE, load_catalog()).threats
    on_cam_api = {t.rule.id for t in threats if t.element_id == "cam_api"}
    assert {"SML-FLW-001", "SML-FLW-002", "SML-FLW-014"} <= on_cam_api
    assert "SML-FLW-001" not in {t.rule.id for t in threats if t.element_id == "api_model"}


def test_threat_ids_are_deterministic_and_survive_unrelated_edits(pds_pipeline):
    catalog = load_catalog()
    first = generate_threats(pds_pipeline, catalog)
    again = generate_threats(copy.deepcopy(pds_pipeline), catalog)
    assert [t.id for t in first.threats] == [t.id for t in again.threats]
    edited = copy.deepcopy(pds_pipeline)
    edited.stage("detector").name = "Renamed detector"
    edited.stage("detector").position = (1.0, 2.0)
    ids = {t.id for t in generate_threats(edited, catalog).threats}
    assert ids == {t.id for t in first.threats}
    assert threat_id("SML-LBL-001", "stage", "crowd_labeling") in ids
    assert len(ids) == len(first.threats)


def test_property_change_adds_and_removes_threats(pds_pipeline):
    catalog = load_catalog()
    before = {t.rule.id for t in generate_threats(pds_pipeline, catalog).threats if t.element_id == "training"}
    edited = copy.deepcopy(pds_pipeline)
    edited.stage("training").properties["dependencies_pinned"] = False
    edited.stage("training").properties["provenance_tracked"] = True
    after = {t.rule.id for t in generate_threats(edited, catalog).threats if t.element_id == "training"}
    assert after - before == {"SML-TRN-004"}
    assert before - after == {"SML-TRN-001"}


def test_out_of_scope_stage_suppresses_its_threats_and_its_flows(pds_pipeline):
    edited = copy.deepcopy(pds_pipeline)
    edited.stage("crowd_labeling").properties["in_scope"] = False
    result = generate_threats(edited, load_catalog())
    assert not any("crowd_labeling" in t.stage_ids for t in result.threats)
    reasons = {t.suppressed_by for t in result.suppressed}
    assert "out of scope: stage crowd_labeling" in reasons
    assert any("ends at an out-of-scope stage" in r for r in reasons)


def test_assumption_suppresses_named_rule_on_named_element(pds_pipeline):
    catalog = load_catalog(user_text="assumptions:\n  - id: A1\n    statement: Cameras sit in locked housings.\n"
                                     "    rules: [SML-SRC-002]\n    elements: [camera_fleet]\n")
    result = generate_threats(pds_pipeline, catalog)
    (suppressed,) = [t for t in result.suppressed if t.rule.id == "SML-SRC-002"]
    assert suppressed.suppressed_by == "assumption A1: Cameras sit in locked housings."
    assert "SML-SRC-002" not in {t.rule.id for t in result.threats}


def test_adjustments_change_risk_and_are_explained(pds_pipeline):
    threats = {(t.rule.id, t.element_id): t for t in generate_threats(pds_pipeline, load_catalog()).threats}
    planner = threats[("SML-CON-001", "planner")]
    assert (planner.risk.likelihood, planner.risk.impact) == (3, 5)
    assert planner.adjustments == ("impact +1: actions can hurt people",)
    edited = copy.deepcopy(pds_pipeline)
    edited.stage("planner").properties["human_in_loop"] = True
    again = {(t.rule.id, t.element_id): t for t in generate_threats(edited, load_catalog()).threats}
    assert again[("SML-CON-001", "planner")].risk.impact == 4


def test_threats_are_ordered_by_score_then_rule():
    threats = generate_threats(BASE, load_catalog()).threats
    keys = [(-t.risk.score, t.rule.id, t.element_type, t.element_id) for t in threats]
    assert keys == sorted(keys)


def test_risk_matrix_bands():
    assert [band_for(s) for s in (1, 3, 4, 6, 8, 10, 12, 16, 20, 25)] == [
        "low", "low", "medium", "medium", "elevated", "elevated", "high", "high", "critical", "critical"]
    grid = matrix_bands()
    assert grid[0] == ["medium", "elevated", "high", "critical", "critical"]  # likelihood 5
    assert grid[4] == ["low", "low", "low", "medium", "medium"]  # likelihood 1
    assert band_at_least("high", "elevated") and not band_at_least("medium", "high")
    assert Risk(4, 5).band == "critical" and Risk(4, 5).score == 20
    assert BANDS == ("low", "medium", "elevated", "high", "critical")


def test_residual_risk_after_implemented_controls():
    catalog = load_catalog()
    controls = [catalog.controls[c] for c in ("CTL-ACCESS-CONTROL", "CTL-LEAST-PRIVILEGE", "CTL-AUDIT-LOG")]
    # access control and audit log reduce likelihood, least privilege reduces impact
    assert residual(Risk(4, 4), controls, {"CTL-ACCESS-CONTROL", "CTL-LEAST-PRIVILEGE"}) == Risk(3, 3)
    assert residual(Risk(1, 1), controls, {c.id for c in controls}) == Risk(1, 1)
    assert residual(Risk(4, 4), controls, set()) == Risk(4, 4)


def test_large_pipeline_is_fast():
    import time

    from secmlops_core.pipeline.model import Flow, Pipeline, Stage, Zone
    from secmlops_core.catalog.vocabulary import stage_kinds

    kinds = list(stage_kinds())
    stages = [Stage(id=f"s{i}", name=f"s{i}", kind=kinds[i % len(kinds)], zone=f"z{i % 3}") for i in range(1000)]
    flows = [Flow(id=f"f{i}", source=f"s{i % 997}", target=f"s{(i * 7 + 1) % 1000}") for i in range(3000)
             if i % 997 != (i * 7 + 1) % 1000]
    big = Pipeline(id="big", name="big", zones=[Zone(f"z{i}", f"z{i}") for i in range(3)], stages=stages, flows=flows)
    start = time.perf_counter()
    result = generate_threats(big, load_catalog())
    assert time.perf_counter() - start < 2.0
    assert len(result.threats) > 1000
