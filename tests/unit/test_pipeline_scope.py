"""A workshop limit (an account with --pipeline) is a limit on what the person reads as well as
what they edit: other pipelines, their versions, drafts, registers and control states are hidden."""

import pytest

from secmlops_core.access.policy import PermissionDenied, Principal, acting_as
from secmlops_core.pipeline import library
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import assess_stored

LIMITED = Principal("pat", frozenset({"participant"}), "Pat", "password", frozenset({"pds"}))
LIMITED_VIEWER = Principal("val", frozenset({"viewer"}), "Val", "password", frozenset({"pds"}))
EVERYONE = Principal("vic", frozenset({"viewer"}), "Vic", "password")


@pytest.fixture()
def two_pipelines(store, pds_pipeline):
    library.save_version(store, pds_pipeline, "template")
    fraud = library.load_template("fraud_api")
    library.save_version(store, fraud, "template")
    assess_stored(store, fraud)
    return store, fraud.id


@pytest.mark.parametrize("principal", [LIMITED, LIMITED_VIEWER])
def test_a_limited_account_lists_and_reads_only_its_pipelines(two_pipelines, principal):
    store, other = two_pipelines
    with acting_as(principal):
        assert [s.pipeline_id for s in library.list_pipelines(store)] == ["pds"]
        assert library.latest(store, "pds").id == "pds"
        for read in (library.latest, library.list_versions, library.load_draft, reg.load_register,
                     reg.control_states, reg.history):
            with pytest.raises(PermissionDenied, match=f"pipeline '{other}'"):
                read(store, other)


def test_an_account_without_a_limit_reads_every_pipeline(two_pipelines):
    store, other = two_pipelines
    with acting_as(EVERYONE):
        assert {s.pipeline_id for s in library.list_pipelines(store)} == {"pds", other}
        assert library.latest(store, other).id == other
        entries, _ = reg.load_register(store, other)
        assert entries
