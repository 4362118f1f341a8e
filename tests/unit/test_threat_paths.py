"""Attack paths (entry points to crown jewels, ranked by risk) and blast radius."""

from secmlops_core.pipeline.validate import parse_pipeline
from secmlops_core.threats.assessment import assess
from secmlops_core.threats.paths import attack_paths, blast_radius, crown_jewels, entry_points


def chain():
    """adversary -> a -> store (crown jewel), and adversary -> b -> store; b is the riskier route."""
    return parse_pipeline({
        "format": "secmlops-pipeline", "version": 1, "id": "chain", "name": "Chain",
        "stages": [{"id": "adv", "name": "Adversary", "kind": "adversary"},
                   {"id": "a", "name": "A", "kind": "ingestion"},
                   {"id": "b", "name": "B", "kind": "ingestion", "properties": {"internet_facing": False}},
                   {"id": "store", "name": "Lake", "kind": "data_store"},
                   {"id": "island", "name": "Unreached", "kind": "model_registry"}],
        "flows": [{"id": "adv_a", "source": "adv", "target": "a"}, {"id": "a_store", "source": "a", "target": "store"},
                  {"id": "adv_b", "source": "adv", "target": "b"}, {"id": "b_store", "source": "b", "target": "store"}]})


def test_entry_points_and_crown_jewels(pds_pipeline):
    entries = set(entry_points(pds_pipeline))
    assert {"camera_fleet", "crowd_labeling", "public_datasets", "pretrained_weights", "ingestion"} <= entries
    assert "training" not in entries
    assert crown_jewels(pds_pipeline) == {"data_lake": "training_data", "model_registry": "model_registry",
                                          "detector": "deployed_model", "planner": "actuator"}


def test_riskiest_route_is_chosen_and_scored():
    pipe = chain()
    scores = [("stage", "a", 4), ("stage", "b", 20), ("flow", "b_store", 10), ("stage", "store", 12)]
    (path,) = attack_paths(pipe, scores)
    assert path.stages == ("adv", "b", "store") and path.flows == ("adv_b", "b_store")
    assert path.step_risks == (20, 12)
    assert path.score == 16.0 and path.band == "high"
    assert path.asset_kind == "training_data"


def test_paths_are_ranked_and_bounded(pds_pipeline):
    assessment = assess(pds_pipeline)
    paths = assessment.paths
    assert paths and len(paths) <= 25
    assert [p.score for p in paths] == sorted((p.score for p in paths), reverse=True)
    assert all(p.entry in entry_points(pds_pipeline) and p.asset in crown_jewels(pds_pipeline) for p in paths)
    # with the per-pair search disabled only the best path per crown jewel remains
    scores = [(t.threat.element_type, t.threat.element_id, t.residual_risk.score) for t in assessment.threats]
    bounded = attack_paths(pds_pipeline, scores, pair_budget=0)
    assert len(bounded) == 4 and {p.asset for p in bounded} == set(crown_jewels(pds_pipeline))


def test_no_paths_without_entry_points():
    pipe = parse_pipeline({"format": "secmlops-pipeline", "version": 1, "id": "x", "name": "x",
                           "stages": [{"id": "t", "name": "t", "kind": "training"},
                                      {"id": "r", "name": "r", "kind": "model_registry"}],
                           "flows": [{"id": "f", "source": "t", "target": "r"}]})
    assert attack_paths(pipe, []) == []


def test_blast_radius(pds_pipeline):
    radius = blast_radius(pds_pipeline, "cicd", [("stage", "detector", 12), ("stage", "training", 9),
                                                   ("flow", "cicd_to_vehicle", 6)])
    assert {"vehicle_ecu", "detector", "planner", "monitoring"} <= set(radius.reachable)
    assert "cicd" not in radius.reachable and "ml_engineer" not in radius.reachable
    assert set(radius.assets) == {"detector", "planner", "data_lake", "model_registry"}
    assert radius.threats_in_reach == 3
    assert blast_radius(pds_pipeline, "planner").reachable == ()
