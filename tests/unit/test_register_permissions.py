"""The shared register is written only by those who may edit threats, and only from the shared
catalog: a reader's visit and a person's own rules file change nothing in the store."""

import copy

import pytest
import yaml

from secmlops_core.access import audit
from secmlops_core.access.policy import PermissionDenied, Principal, acting_as
from secmlops_core.catalog.loading import builtin_rules, load_catalog
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import assess_stored
from secmlops_core.threats.engine import generate_threats

VIEWER = Principal("vic", frozenset({"viewer"}), "Vic Viewer", "password")
PARTICIPANT = Principal("pat", frozenset({"participant"}), "Pat", "password", frozenset({"pds"}))
INJECTED_RULE = {"rules": [{
    "id": "ORG-INJECTED", "title": "INJECTED", "stride": "T", "applies_to": "stage", "lifecycle": "data_collection",
    "match": {"stage_kinds": ["camera_fleet"]}, "description": "A rule only this person's file holds.",
    "atlas": ["AML.T0010.000"], "nist": {"objective": "integrity"}, "likelihood": 2, "impact": 3,
    "controls": ["CTL-VENDOR-ASSURANCE"]}]}


def _disable_all() -> str:
    return yaml.safe_dump({"disable": sorted(builtin_rules())})


def _snapshot(store):
    entries, generation = reg.load_register(store, "pds")
    present = sorted(t for t, e in entries.items() if e.present)
    return present, generation, len(audit.entries(store))


@pytest.fixture()
def synced(store, pds_pipeline):
    assess_stored(store, pds_pipeline)  # the local operator's first visit records the register
    return store


def test_viewer_rules_file_that_disables_every_rule_leaves_the_register_alone(synced, pds_pipeline):
    before = _snapshot(synced)
    assert len(before[0]) == len(builtin_rules())
    with acting_as(VIEWER):
        assessment, sync = assess_stored(synced, pds_pipeline, load_catalog(user_text=_disable_all(),
                                                                             source_name="mine.yaml"))
    assert assessment.threats == () and not sync.changed  # the viewer's own view has no threat
    assert _snapshot(synced) == before
    assert not audit.entries(synced, actor="Vic Viewer")


def test_viewer_rules_file_that_adds_a_rule_stores_no_injected_threat(synced, pds_pipeline):
    before = _snapshot(synced)
    with acting_as(VIEWER):
        assessment, _ = assess_stored(synced, pds_pipeline, load_catalog(user_text=yaml.safe_dump(INJECTED_RULE),
                                                                         source_name="mine.yaml"))
    assert any(t.threat.rule.id == "ORG-INJECTED" for t in assessment.threats)
    entries, _ = reg.load_register(synced, "pds")
    assert not any(e.rule_id == "ORG-INJECTED" for e in entries.values())
    assert _snapshot(synced) == before


def test_editor_rules_file_is_a_personal_view_too(synced, pds_pipeline):
    before = _snapshot(synced)
    with acting_as(PARTICIPANT):
        assess_stored(synced, pds_pipeline, load_catalog(user_text=_disable_all(), source_name="mine.yaml"))
    assert _snapshot(synced) == before


def test_reader_visit_of_a_changed_pipeline_writes_nothing(synced, pds_pipeline):
    changed = copy.deepcopy(pds_pipeline)
    changed.stage("training").properties["dependencies_pinned"] = False
    before = _snapshot(synced)
    with acting_as(VIEWER):
        assessment, sync = assess_stored(synced, changed)
    assert not sync.changed and _snapshot(synced) == before
    assert len(assessment.threats) > 0


def test_sync_register_itself_refuses_who_may_not_edit_threats(synced, pds_pipeline):
    threats = generate_threats(pds_pipeline, load_catalog()).threats
    with acting_as(VIEWER), pytest.raises(PermissionDenied):
        reg.sync_register(synced, "pds", threats[:1])
    other = Principal("pat", frozenset({"participant"}), "Pat", "password", frozenset({"another"}))
    with acting_as(other), pytest.raises(PermissionDenied):
        reg.sync_register(synced, "pds", threats[:1])
    assert len(_snapshot(synced)[0]) == len(builtin_rules())
