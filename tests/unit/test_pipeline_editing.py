import pytest
from streamlit_flow.elements import StreamlitFlowEdge

from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.diff import diff_pipelines
from secmlops_core.pipeline.editing import PipelineEditor
from secmlops_core.pipeline.layout import layered_positions
from secmlops_core.pipeline.model import Zone
from secmlops_core.ui.flow_adapter import apply_flow_state, to_flow_state
from secmlops_core.ui.text import escape_markdown


def test_add_connect_edit_delete_and_undo(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    stage = editor.add_stage("adversary", "Roadside attacker", zone=None)
    assert stage.id == "roadside_attacker"
    flow = editor.add_flow(stage.id, "camera_fleet", "Adversarial patch in view")
    editor.update_stage(stage.id, properties={"physically_exposed": True})
    assert editor.pipeline.stage(stage.id).properties == {"physically_exposed": True}
    assert editor.remove_stage(stage.id) == 1
    assert flow.id not in {f.id for f in editor.pipeline.flows}
    for _ in range(4):
        assert editor.undo()
    assert editor.pipeline == pds_pipeline
    assert not editor.undo()


def test_invalid_edit_changes_nothing(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    with pytest.raises(ValidationFailed, match="unknown kind"):
        editor.update_stage("training", kind="wizardry")
    with pytest.raises(ValidationFailed, match="self-loop"):
        editor.add_flow("training", "training")
    with pytest.raises(ValidationFailed, match="must be true or false"):
        editor.update_stage("training", properties={"internet_facing": "yes"})
    assert editor.pipeline == pds_pipeline
    assert not editor.can_undo


def test_removing_a_zone_unzones_its_stages(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    editor.set_zones([z for z in pds_pipeline.zones if z.id != "vehicle"] + [Zone("lab", "Lab", "high")])
    assert all(s.zone != "vehicle" for s in editor.pipeline.stages)
    assert editor.pipeline.stage("detector").zone is None


def test_diff_reports_added_removed_and_changed(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    editor.add_stage("monitoring", "Second monitor")
    editor.remove_flow("camera_to_detector")
    editor.update_stage("training", properties={"dependencies_pinned": False, "provenance_tracked": True})
    diff = diff_pipelines(pds_pipeline, editor.pipeline)
    assert ("stage", "second_monitor") in diff.added
    assert ("flow", "camera_to_detector") in diff.removed
    changed = {(c.element_id, c.field, c.before, c.after) for c in diff.changed}
    assert ("training", "properties.dependencies_pinned", True, False) in changed
    assert ("training", "properties.provenance_tracked", None, True) in changed
    assert diff_pipelines(pds_pipeline, pds_pipeline).is_empty


def test_layout_puts_each_stage_right_of_its_predecessors(pds_pipeline):
    positions = layered_positions(pds_pipeline)
    assert set(positions) == {s.id for s in pds_pipeline.stages}
    assert positions["ingestion"][0] > positions["camera_fleet"][0]
    assert positions["planner"][0] > positions["detector"][0]
    assert len(set(positions.values())) == len(positions), "no two stages overlap"


def test_adapter_round_trip_and_browser_changes(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    state = to_flow_state(editor.pipeline)
    assert {n.id for n in state.nodes} == {s.id for s in pds_pipeline.stages}
    assert {e.id for e in state.edges} == {f.id for f in pds_pipeline.flows}
    crossing = {e.id: e.animated for e in state.edges}
    assert crossing["camera_to_ingestion"] is True and crossing["training_to_evaluation"] is False

    # The browser moves a node, draws a new connection and deletes one flow.
    state.nodes[0].position = {"x": 999.0, "y": -5.0}
    state.edges = [e for e in state.edges if e.id != "detector_to_planner"]
    state.edges.append(StreamlitFlowEdge("st-flow-edge_planner-monitoring", "planner", "monitoring"))
    changes = apply_flow_state(editor, state)
    assert changes.moved
    assert changes.added_flows == ["planner_to_monitoring"]
    assert changes.removed_flows == ["detector_to_planner"]
    assert editor.pipeline.stage(state.nodes[0].id).position == (999.0, -5.0)

    # Before the browser has seen the renamed id, it sends the old one again: nothing is lost.
    again = apply_flow_state(editor, state)
    assert not again.structural
    assert "planner_to_monitoring" in {f.id for f in editor.pipeline.flows}


def test_adapter_rejects_self_loops_from_the_browser(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    state = to_flow_state(editor.pipeline)
    state.edges.append(StreamlitFlowEdge("st-flow-edge_x", "training", "training"))
    changes = apply_flow_state(editor, state)
    assert changes.errors and editor.pipeline.flows == pds_pipeline.flows


def test_user_text_is_escaped_for_the_editor(pds_pipeline):
    editor = PipelineEditor(pds_pipeline)
    editor.update_stage("training", name="<img src=x onerror=alert(1)> **bold** [link](http://x)")
    content = next(n for n in to_flow_state(editor.pipeline).nodes if n.id == "training").data["content"]
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in content and "<" not in content.replace("\\<", "")
    assert "\\*\\*bold\\*\\*" in content and "\\[link\\]" in content
    assert escape_markdown("a_b") == "a\\_b"
