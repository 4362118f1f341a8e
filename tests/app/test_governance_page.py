"""The Governance page under Streamlit's AppTest: tabs and numbers, closing a gap from the
page, recording the gate report, and a refused change shown as an error."""

import pytest

from secmlops_core.access.policy import Principal
from secmlops_core.evidence import list_evidence
from secmlops_core.governance import people
from tests.app.conftest import home_store, run_page


@pytest.fixture()
def app(secmlops_home):
    return run_page("governance.py")


_store = home_store


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_page_shows_the_five_tabs_and_computed_numbers(app):
    assert app.title[0].value == "Governance"
    assert [t.label for t in app.tabs][:5] == ["People", "Technology", "Processes", "Governance & Compliance",
                                               "Provenance"]
    metrics = _metrics(app)
    assert metrics["Accountability gaps"] == "0" and metrics["Gates passed"] == "0 / 6"
    assert metrics["Controls implemented"] == "0 / 60"
    assert {"EU AI Act (high-risk obligations)", "ISO/IEC 42001:2023", "NIST AI RMF 1.0"} <= set(metrics)
    assert not app.error


def test_assigning_an_accountable_role_closes_the_gap(app, secmlops_home):
    people.set_raci_rows(_store(secmlops_home), "pds", {("stage", "monitoring"): {"ml_engineer": "C"}})
    app.run()
    assert int(_metrics(app)["Accountability gaps"]) >= 1
    assert any("Monitoring and incident response" in m.value for m in app.markdown)
    app.selectbox(key="gap_role:stage:monitoring").set_value("security_operations")
    app.button(key="gap_assign:stage:monitoring").click().run()
    assert not app.exception and not app.error
    assert _metrics(app)["Accountability gaps"] == "0"
    assert people.load_raci(_store(secmlops_home), "pds").accountable("stage", "monitoring") == "security_operations"
    assert any("accountable for Monitoring" in s.value for s in app.success)


def test_recording_the_gate_report_stores_gate_results(app, secmlops_home):
    app.button(key="gates_record").click().run()
    assert not app.exception and not app.error
    assert len(list_evidence(_store(secmlops_home), pipeline_id="pds", kind="gate_result")) == 6


def test_a_viewer_gets_disabled_editors(app, secmlops_home, monkeypatch):
    from secmlops_core.access import policy

    viewer = Principal("v", frozenset({"viewer"}))
    monkeypatch.setattr(policy, "current_principal", lambda: viewer)  # AppTest runs the script in its own thread
    app.run()
    assert app.button(key="gates_record").disabled
    assert app.button(key="FormSubmitter:approve_weights-Approve (re-hashes the file first)").disabled
    assert app.selectbox(key="mapping_requirement:eu_ai_act") is not None and not app.exception
