"""Refused actions are messages, never exception boxes, and a refusal stays on screen until the
person acts again: the threat decision form, and a participant limited to one pipeline who
creates a pipeline from a template or imports a file in the Pipeline designer."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from secmlops_core.access import users
from secmlops_core.pipeline import library
from secmlops_core.pipeline.formats import dumps_pipeline
from secmlops_core.threats import register as reg
from secmlops_core.threats.engine import threat_id
from tests.app.conftest import home_store, run_page
from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")


def _errors(at: AppTest) -> list[str]:
    """The error messages as shown (Markdown escapes of user text removed)."""
    return [re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", e.value) for e in at.error]


def test_refused_threat_decision_is_a_message_with_a_discard_button(secmlops_home):
    at = run_page("threats.py")
    tid = threat_id("SML-CI-001", "stage", "cicd")
    at.selectbox(key="decision_threat").set_value(tid).run()
    at.selectbox(key=f"decision_status:{tid}").set_value("false_positive")
    at.button(key="FormSubmitter:threat_decision-Save decision").click().run()
    assert not at.exception, at.exception
    assert any("needs a justification" in e for e in _errors(at))
    assert any(b.label == "Discard these edits" for b in at.button)
    entries, _ = reg.load_register(home_store(secmlops_home), "pds")
    assert entries[tid].status == "open"


@pytest.fixture()
def participant(secmlops_home, monkeypatch):
    """The app in local-accounts mode, signed in as a participant limited to pipeline pds."""
    import secmlops_core.ui.shell as shell
    from secmlops_core import settings

    monkeypatch.setenv("SECMLOPS_AUTH_MODE", "local")
    settings.get_settings.cache_clear()
    shell._bootstrap.clear()
    users.add_user(home_store(secmlops_home), "pat", ["participant"], "participant password", pipelines=["pds"])
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input("pat")
    at.text_input[1].input("participant password")
    at.button[0].click().run()
    assert at.title[0].value == "Pipeline designer" and not at.exception
    return at


def test_participant_creating_a_pipeline_gets_a_refusal_that_stays(participant, secmlops_home):
    at = participant
    at.text_input(key="designer_new_name").input("My own pipeline")
    at.button(key="designer_create").click().run()
    assert not at.exception, at.exception
    assert any("may not" in e and "my_own_pipeline" in e for e in _errors(at))
    at.run()  # a rerun nobody asked for (the graph component answering) keeps the message
    assert any("may not" in e for e in _errors(at))
    assert [s.pipeline_id for s in library.list_pipelines(home_store(secmlops_home))] == ["pds"]
    # The next action replaces the message: choosing another pipeline is not refused.
    at.text_input(key="designer_new_name").input("").run()
    at.selectbox(key="designer_template").set_value("pds")
    at.button(key="designer_create").click().run()
    assert not at.exception, at.exception
    assert any("may not" in e and "pds_2" in e for e in _errors(at))
    assert not any("my_own_pipeline" in e for e in _errors(at))


def test_participant_importing_another_pipeline_gets_a_refusal_that_stays(participant, secmlops_home):
    at = participant
    other = library.load_template("pds")
    other.id, other.name = "someone_elses", "Someone else's pipeline"
    at.file_uploader(key="designer_upload").set_value(
        ("other.yaml", dumps_pipeline(other, "yaml").encode(), "application/yaml")).run()
    at.button(key="designer_import").click().run()
    assert not at.exception, at.exception
    assert any("may not" in e and "someone" in e for e in _errors(at))
    at.run()
    assert any("may not" in e and "someone" in e for e in _errors(at))
    assert [s.pipeline_id for s in library.list_pipelines(home_store(secmlops_home))] == ["pds"]


def test_import_error_stays_until_the_next_import(secmlops_home):
    at = run_page("designer.py")
    at.file_uploader(key="designer_upload").set_value(("broken.yaml", b"stages: [unclosed", "application/yaml")).run()
    at.button(key="designer_import").click().run()
    assert not at.exception, at.exception
    shown = _errors(at)
    assert len(shown) == 1 and "invalid YAML" in shown[0], shown
    for _ in range(2):  # reruns the person did not ask for keep it
        at.run()
        assert _errors(at) == shown
    good = library.load_template("fraud_api")
    at.file_uploader(key="designer_upload").set_value(
        ("fraud.yaml", dumps_pipeline(good, "yaml").encode(), "application/yaml")).run()
    assert not _errors(at)  # choosing another file is the next action: the old message goes
    at.button(key="designer_import").click().run()
    assert not at.exception and not _errors(at)
    assert "fraud_api" in [s.pipeline_id for s in library.list_pipelines(home_store(secmlops_home))]


def test_alert_rule_evaluation_with_a_broken_rules_file_is_a_message(secmlops_home):
    at = run_page("incidents.py")
    (secmlops_home / "alert_rules.yaml").write_text("rules: [unclosed", encoding="utf-8")
    at.button(key="incidents:evaluate").click().run()
    assert not at.exception, at.exception
    assert any("alert_rules.yaml" in e for e in _errors(at)), _errors(at)


def test_incident_detail_with_a_broken_rules_file_says_so_instead_of_failing(secmlops_home, store):
    from secmlops_core.monitoring.incidents import record_alert
    from secmlops_core.monitoring.rules import load_alert_rules

    rule = load_alert_rules().rules["drift-share"]
    record_alert(store, rule=rule, dedup_key="cam-a", title="Input drift on cam-a", camera_id="cam-a",
                 details={"summary": "5/9 columns drifted"})
    (secmlops_home / "alert_rules.yaml").write_text("rules: [unclosed", encoding="utf-8")
    at = run_page("incidents.py")
    assert not at.exception, at.exception
    assert any("runbook cannot be shown" in w.value for w in at.warning), [w.value for w in at.warning]
