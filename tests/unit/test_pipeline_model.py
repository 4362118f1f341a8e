import copy
import json

import pytest

from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.formats import dumps_pipeline, loads_pipeline, to_document
from secmlops_core.pipeline.library import list_templates, load_template
from secmlops_core.pipeline.model import effective_property
from secmlops_core.pipeline.validate import MAX_STAGES, parse_pipeline


def minimal(**overrides):
    document = {"format": "secmlops-pipeline", "version": 1, "id": "p", "name": "P",
                "zones": [{"id": "z1", "name": "Z1"}, {"id": "z2", "name": "Z2", "trust": "low"}],
                "stages": [{"id": "a", "name": "A", "kind": "ingestion", "zone": "z1"},
                           {"id": "b", "name": "B", "kind": "training", "zone": "z2"},
                           {"id": "c", "name": "C", "kind": "evaluation", "zone": "z2"}],
                "flows": [{"id": "ab", "source": "a", "target": "b"}, {"id": "bc", "source": "b", "target": "c"}]}
    document.update(overrides)
    return document


def problems_of(document) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_pipeline(document)
    return caught.value.problems


@pytest.mark.parametrize("template_id", sorted(list_templates()))
def test_templates_are_valid_and_round_trip_exactly(template_id):
    pipeline = load_template(template_id)
    for fmt in ("yaml", "json"):
        text = dumps_pipeline(pipeline, fmt)
        again = loads_pipeline(text, fmt)
        assert again == pipeline
        assert dumps_pipeline(again, fmt) == text


def test_pds_template_has_the_case_stages(pds_pipeline):
    kinds = {stage.kind for stage in pds_pipeline.stages}
    assert {"camera_fleet", "labeling_crowd", "data_store", "training", "model_registry", "cicd",
            "edge_device", "inference_runtime", "consumer", "monitoring", "feedback_loop",
            "pretrained_hub", "public_web_data"} <= kinds


def test_boundary_crossing_is_derived_from_zones():
    pipeline = parse_pipeline(minimal())
    crossing = {flow.id: pipeline.crosses_boundary(flow) for flow in pipeline.flows}
    assert crossing == {"ab": True, "bc": False}


def test_networkx_view_carries_elements():
    graph = parse_pipeline(minimal()).to_networkx()
    assert set(graph.nodes) == {"a", "b", "c"}
    assert graph.edges["a", "b"]["flow"].id == "ab"
    assert graph.nodes["b"]["kind"] == "training"


def test_effective_property_falls_back_to_catalog_default():
    pipeline = parse_pipeline(minimal())
    stage = pipeline.stage("a")
    assert effective_property(stage, "access_controlled") is True
    assert effective_property(stage, "internet_facing") is False
    with pytest.raises(KeyError):
        effective_property(stage, "no_such_property")


def test_each_problem_names_its_element():
    document = minimal()
    document["stages"].append({"id": "a", "name": "dup", "kind": "nonsense", "zone": "nowhere",
                               "properties": {"internet_facing": "yes", "colour": "red"}})
    document["flows"] += [{"id": "loop", "source": "b", "target": "b"},
                          {"id": "dangling", "source": "a", "target": "ghost"},
                          {"id": "ab", "source": "a", "target": "c"}]
    problems = problems_of(document)
    expected = ["unknown kind 'nonsense'", "zone 'nowhere' is not defined", "property 'internet_facing' must be true",
                "unknown stage property 'colour'", "stage id 'a' is used more than once", "(self-loop)",
                "target 'ghost' is not a stage (dangling flow)", "flow id 'ab' is used more than once"]
    for fragment in expected:
        assert any(fragment in problem for problem in problems), (fragment, problems)


def test_version_and_format_are_checked():
    assert any("'version' is missing" in p for p in problems_of({k: v for k, v in minimal().items() if k != "version"}))
    assert any("reads version 1" in p for p in problems_of(minimal(version=2)))
    assert any("'format' must be" in p for p in problems_of(minimal(format="other")))
    assert any("unknown field 'extra'" in p for p in problems_of(minimal(extra=1)))


def test_size_limits_are_stated():
    stages = [{"id": f"s{i}", "name": "s", "kind": "training"} for i in range(MAX_STAGES + 1)]
    problems = problems_of(minimal(stages=stages, flows=[]))
    assert problems == [f"'stages' has {MAX_STAGES + 1:,} entries; the limit is {MAX_STAGES:,}"]


def test_markup_in_names_is_kept_as_plain_text():
    name = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
    document = minimal()
    document["stages"][0]["name"] = name
    pipeline = parse_pipeline(document)
    assert pipeline.stage("a").name == name
    assert json.loads(dumps_pipeline(pipeline, "json"))["stages"][0]["name"] == name


def test_canonical_document_omits_unset_fields():
    document = to_document(parse_pipeline(minimal()))
    assert "properties" not in document["stages"][0]
    assert "description" not in document
    assert document["zones"][0] == {"id": "z1", "name": "Z1", "trust": "medium"}


def test_validation_does_not_mutate_input():
    document = minimal()
    before = copy.deepcopy(document)
    parse_pipeline(document)
    assert document == before
