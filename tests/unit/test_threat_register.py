"""The threat register in the store: decisions persist across re-generation; history; validation."""

import copy
from datetime import date

import pytest

from secmlops_core.errors import ValidationFailed
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import assess_stored
from secmlops_core.threats.engine import threat_id
from secmlops_core.threats.risk import BANDS


def test_first_generation_registers_every_threat_open(store, pds_pipeline):
    assessment, sync = assess_stored(store, pds_pipeline)
    assert sync.changed and sync.generation == 1 and len(sync.new_ids) == len(assessment.threats)
    entries, generation = reg.load_register(store, "pds")
    assert generation == 1 and len(entries) == len(assessment.threats)
    assert {e.status for e in entries.values()} == {"open"}
    assert not any(t.is_new for t in assessment.threats)  # nothing is "new" on the first generation
    lbl = entries[threat_id("SML-LBL-001", "stage", "crowd_labeling")]
    assert lbl.owner_role == "data_steward"


def test_unchanged_pipeline_does_not_create_a_generation(store, pds_pipeline):
    assess_stored(store, pds_pipeline)
    _, sync = assess_stored(store, pds_pipeline)
    assert not sync.changed and sync.generation == 1


def test_decisions_survive_regeneration_new_and_vanished_are_marked(store, pds_pipeline):
    assess_stored(store, pds_pipeline)
    kept = threat_id("SML-LBL-001", "stage", "crowd_labeling")
    goes = threat_id("SML-OPS-001", "stage", "ml_engineer")
    reg.update_entries(store, "pds", {
        kept: {"status": "accepted", "justification": "Vendor contract covers it", "ticket": "https://t.example/1",
               "due_date": "2027-01-31", "owner_role": "ai_risk_owner"},
        goes: {"status": "in_progress"}}, author="alice")

    edited = copy.deepcopy(pds_pipeline)
    edited.stages = [s for s in edited.stages if s.id != "ml_engineer"]
    edited.flows = [f for f in edited.flows if f.source != "ml_engineer"]
    edited.stage("training").properties["dependencies_pinned"] = False
    assessment, sync = assess_stored(store, edited)
    assert sync.generation == 2
    assert threat_id("SML-TRN-004", "stage", "training") in sync.new_ids
    assert goes in sync.vanished_ids
    by_id = {t.id: t for t in assessment.threats}
    assert by_id[kept].status == "accepted" and by_id[kept].owner_role == "ai_risk_owner"
    assert by_id[kept].due_date == date(2027, 1, 31) and not by_id[kept].is_new
    assert by_id[threat_id("SML-TRN-004", "stage", "training")].is_new
    assert [v.threat_id for v in assessment.vanished if v.threat_id == goes]

    # the stage comes back: its threat reappears with the decision taken before
    assessment, sync = assess_stored(store, pds_pipeline)
    assert goes in sync.reappeared_ids
    assert {t.id: t for t in assessment.threats}[goes].status == "in_progress"
    fields = [(h.field, h.new_value) for h in reg.history(store, "pds", goes)]
    assert fields == [("present", "True"), ("present", "False"), ("status", "in_progress")]


def test_history_records_author_and_old_value(store, pds_pipeline):
    assess_stored(store, pds_pipeline)
    tid = threat_id("SML-CI-001", "stage", "cicd")
    assert reg.update_entries(store, "pds", {tid: {"status": "mitigated"}}, author="bob") == 1
    assert reg.update_entries(store, "pds", {tid: {"status": "mitigated"}}, author="bob") == 0
    (entry,) = reg.history(store, "pds", tid)
    assert (entry.field, entry.old_value, entry.new_value, entry.changed_by) == ("status", "open", "mitigated", "bob")


@pytest.mark.parametrize("changes, message", [
    ({"status": "done"}, "status must be one of"),
    ({"owner_role": "ceo"}, "owner must be one of"),
    ({"status": "accepted"}, "needs a justification"),
    ({"status": "false_positive", "justification": "   "}, "needs a justification"),
    ({"ticket": "javascript://alert(1)"}, "http:// or https://"),
    ({"due_date": "next week"}, "due date must be a date"),
    ({"justification": "x" * 2001}, "longer than 2000"),
    ({"title": "renamed"}, "cannot be edited"),
])
def test_invalid_edits_are_refused_and_nothing_is_written(store, pds_pipeline, changes, message):
    assess_stored(store, pds_pipeline)
    tid = threat_id("SML-CI-001", "stage", "cicd")
    with pytest.raises(ValidationFailed) as caught:
        reg.update_entries(store, "pds", {tid: changes})
    assert any(message in p for p in caught.value.problems), caught.value.problems
    entries, _ = reg.load_register(store, "pds")
    assert entries[tid].status == "open" and reg.history(store, "pds") == []


def test_unknown_threat_is_refused(store, pds_pipeline):
    assess_stored(store, pds_pipeline)
    with pytest.raises(ValidationFailed, match="not in the register"):
        reg.update_entries(store, "pds", {"TH-000000000000": {"status": "mitigated"}})


def test_implemented_controls_lower_residual_risk(store, pds_pipeline):
    assess_stored(store, pds_pipeline)
    reg.set_control_states(store, "pds", {"CTL-SAFE-SERIALIZATION": {"status": "implemented", "note": "safetensors"},
                                          "CTL-MODEL-SCAN": {"status": "implemented"}})
    states = reg.control_states(store, "pds")
    assert states["CTL-SAFE-SERIALIZATION"].note == "safetensors"
    assert states["CTL-RATE-LIMIT"].status == "not_started"
    assessment, _ = assess_stored(store, pds_pipeline)
    hub = {t.id: t for t in assessment.threats}[threat_id("SML-HUB-002", "stage", "pretrained_weights")]
    assert hub.threat.risk.score == 20 and hub.residual_risk.score == 10
    assert set(hub.implemented_controls) == {"CTL-SAFE-SERIALIZATION", "CTL-MODEL-SCAN"}
    with pytest.raises(ValidationFailed):
        reg.set_control_states(store, "pds", {"CTL-NOPE": {"status": "implemented"}})
    with pytest.raises(ValidationFailed):
        reg.set_control_states(store, "pds", {"CTL-MODEL-SCAN": {"status": "half"}})


def test_gate_uses_open_threats_and_residual_band(store, pds_pipeline):
    assessment, _ = assess_stored(store, pds_pipeline)
    critical = assessment.gate_failures("critical")
    assert len(critical) == 3
    reg.update_entries(store, "pds", {t.id: {"status": "mitigated"} for t in critical})
    assessment, _ = assess_stored(store, pds_pipeline)
    assert assessment.gate_failures("critical") == []
    assert assessment.gate_failures("high")


def test_assessment_answers_per_stage_and_filters(store, pds_pipeline):
    from secmlops_core.threats.assessment import ThreatFilter

    assessment, _ = assess_stored(store, pds_pipeline)
    counts, worst = assessment.open_counts_by_stage(), assessment.worst_band_by_stage()
    assert set(counts) == set(worst) == {s.id for s in pds_pipeline.stages}
    for stage in pds_pipeline.stages:
        touching = [t for t in assessment.open_threats() if stage.id in t.threat.stage_ids]
        assert counts[stage.id] == len(touching)
        assert worst[stage.id] == (max((t.residual_risk.band for t in touching), key=BANDS.index) if touching else "none")
    spoofing = assessment.filtered(ThreatFilter(stride=frozenset({"S"})))
    assert spoofing and all(t.threat.rule.stride == "S" for t in spoofing)
    assert len(assessment.filtered(ThreatFilter())) == len(assessment.threats)
    one_stage = assessment.filtered(ThreatFilter(stages=frozenset({"training"}), bands=frozenset({"high"})))
    assert all("training" in t.threat.stage_ids and t.residual_risk.band == "high" for t in one_stage)
