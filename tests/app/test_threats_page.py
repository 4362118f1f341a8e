"""The Threats page under Streamlit's AppTest: summary, decisions, workshop answers, downloads."""

import pandas as pd
import pytest

from secmlops_core.pipeline import library
from secmlops_core.threats import register as reg
from secmlops_core.threats.engine import threat_id
from tests.app.conftest import home_store, run_page


@pytest.fixture()
def app(secmlops_home):
    return run_page("threats.py")


_store = home_store


def test_page_shows_threats_metrics_and_register(app, secmlops_home):
    assert app.title[0].value == "Threats"
    assert "111 threats from 111 rules" in app.caption[0].value
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Open · critical"] == "3" and metrics["Open · high"] == "46"
    entries, generation = reg.load_register(_store(secmlops_home), "pds")
    assert len(entries) == 111 and generation == 1
    assert [t.label for t in app.tabs][:3] == ["Register", "Heat map", "Graph and attack paths"]
    assert not app.error


def test_decision_form_saves_to_the_register(app, secmlops_home):
    tid = threat_id("SML-LBL-001", "stage", "crowd_labeling")
    app.selectbox(key="decision_threat").set_value(tid).run()
    app.selectbox(key=f"decision_status:{tid}").set_value("accepted")
    app.text_area(key=f"decision_justification:{tid}").input("Vendor runs consensus labeling")
    app.text_input(key=f"decision_ticket:{tid}").input("SEC-42")
    app.button(key="FormSubmitter:threat_decision-Save decision").click().run()
    assert not app.exception and not app.error
    entries, _ = reg.load_register(_store(secmlops_home), "pds")
    assert (entries[tid].status, entries[tid].ticket) == ("accepted", "SEC-42")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Open · high"] == "45"


def test_decision_without_justification_is_refused(app, secmlops_home):
    tid = threat_id("SML-CI-001", "stage", "cicd")
    app.selectbox(key="decision_threat").set_value(tid).run()
    app.selectbox(key=f"decision_status:{tid}").set_value("false_positive")
    app.button(key="FormSubmitter:threat_decision-Save decision").click().run()
    assert any("needs a justification" in e.value for e in app.error)
    entries, _ = reg.load_register(_store(secmlops_home), "pds")
    assert entries[tid].status == "open"


def test_workshop_answer_saves_a_version_and_regenerates(app, secmlops_home):
    app.selectbox(key="workshop_stage").set_value("crowd_labeling").run()
    app.checkbox(key="workshop:pds:crowd_labeling:audit_logging").check()
    app.button(key="FormSubmitter:workshop_answers:crowd_labeling-Save answers and regenerate").click().run()
    assert not app.exception and not app.error
    store = _store(secmlops_home)
    latest = library.latest(store, "pds")
    assert latest.stage("crowd_labeling").properties["audit_logging"] is True
    assert library.list_versions(store, "pds")[0].label == "workshop: Crowd labeling"
    assert "110 threats" in app.caption[0].value
    entries, generation = reg.load_register(store, "pds")
    assert generation == 2 and not entries[threat_id("SML-LBL-006", "stage", "crowd_labeling")].present
    assert any("vanished" in i.value for i in app.info)


def test_filters_narrow_the_register(app):
    app.multiselect(key="threats_filter_stride").set_value(["R"]).run()
    assert not app.exception
    assert any("of 111 threats" in c.value and not c.value.startswith("111 of") for c in app.caption)


def test_register_changes_are_computed_from_the_edited_table():
    from secmlops_core.ui.threats_view import register_changes

    before = pd.DataFrame([{"id": "TH-1", "status": "open", "owner": "Data steward", "justification": "",
                            "ticket": "", "due": None}])
    after = before.copy()
    after.loc[0, "status"] = "mitigated"
    after.loc[0, "owner"] = "AI risk owner"
    assert register_changes(before, after, {"Data steward": "data_steward", "AI risk owner": "ai_risk_owner"}) == {
        "TH-1": {"status": "mitigated", "owner_role": "ai_risk_owner"}}
    assert register_changes(before, before.copy(), {}) == {}
