import pytest

from secmlops_core.errors import UserFacingError
from secmlops_core.evidence import add_evidence, list_evidence


def test_add_and_filter(store):
    add_evidence(store, "attack_run", "run-1", "PGD vanish removed 4 of 4 pedestrians",
                 pipeline_id="pds", threat_id="t1", outcome="fail", metrics={"before": 4, "after": 0})
    add_evidence(store, "drift_snapshot", "snap-1", "no drift", pipeline_id="pds")
    add_evidence(store, "incident", "inc-1", "feed down")
    assert len(list_evidence(store)) == 3
    attached = list_evidence(store, pipeline_id="pds", threat_id="t1")
    assert [e.source_ref for e in attached] == ["run-1"]
    assert attached[0].metrics == {"before": 4, "after": 0}
    assert [e.kind for e in list_evidence(store, kind="incident")] == ["incident"]


def test_filter_values_are_bound_not_interpolated(store):
    add_evidence(store, "incident", "inc-1", "x", pipeline_id="pds")
    assert list_evidence(store, pipeline_id="pds' OR '1'='1") == []


def test_unknown_kind_and_outcome_are_refused(store):
    with pytest.raises(UserFacingError, match="unknown evidence kind"):
        add_evidence(store, "rumour", "x", "y")
    with pytest.raises(UserFacingError, match="outcome"):
        add_evidence(store, "incident", "x", "y", outcome="maybe")
