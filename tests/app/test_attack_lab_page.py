"""The Attack lab page: renders, preselects from a threat link, runs a job and shows the stored run."""

from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "pages" / "attack_lab.py"


def _app(query: dict | None = None) -> AppTest:
    st.cache_resource.clear()  # the shell caches settings per process; each test has its own home
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_renders_with_defaults(secmlops_home):
    at = _app()
    assert at.title[0].value == "Attack lab"
    assert at.selectbox(key="attack:attack").value == "pgd-vanish"
    assert any("No evaluation yet" in c.value for c in at.caption)


def test_threat_link_preselects_the_demo_and_names_the_threat(secmlops_home):
    at = _app({"demo": "patch", "threat": "SML-INF-002", "pipeline": "pds"})
    assert at.selectbox(key="attack:attack").value == "patch"
    assert any("SML-INF-002" in i.value for i in at.info)


def test_unknown_demo_is_reported_not_fatal(secmlops_home):
    at = _app({"demo": "death-ray"})
    assert any("death-ray" in w.value for w in at.warning)
    assert at.selectbox(key="attack:attack").value == "pgd-vanish"


def _act_as(monkeypatch, principal):
    from secmlops_core.access import policy

    monkeypatch.setattr(policy, "current_principal", lambda: principal)  # AppTest runs the script in its own thread


def test_a_viewer_cannot_launch_attacks(secmlops_home, monkeypatch):
    from secmlops_core.access.policy import LOCAL_OPERATOR, Principal

    _act_as(monkeypatch, LOCAL_OPERATOR)
    at = _app()  # the app's first run creates the default pipelines, which a viewer may not
    _act_as(monkeypatch, Principal("v", frozenset({"viewer"})))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key="attack:run-button").disabled
    assert any("run_attacks" in c.value for c in at.caption)
    buttons = {b.label: b for b in at.button}
    assert buttons["Train"].disabled and buttons["Evaluate on the sample images"].disabled


def test_run_button_queues_a_job_and_the_stored_run_is_shown(secmlops_home, monkeypatch):
    from secmlops_core.access.policy import LOCAL_OPERATOR
    from secmlops_core.jobs import get_job_manager
    from secmlops_core.store import get_store

    _act_as(monkeypatch, LOCAL_OPERATOR)
    at = _app({"demo": "fgsm"})
    at.number_input(key="attack:p:fgsm:subtle:imgsz").set_value(320)
    at.button(key="attack:run-button").click()
    at.run()
    job_id = at.session_state["attack:job"]
    manager = get_job_manager(get_store(secmlops_home / "secmlops.duckdb"))
    assert manager.wait(job_id, 180).status == "succeeded"
    at.session_state["attack:run"] = manager.get(job_id).result["run_id"]
    at.run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Pedestrians (clean)"] == "4"
    assert "Recent runs" in [s.value for s in at.subheader]


def test_report_to_operations_is_off_by_default_and_needs_the_incident_permission(secmlops_home, monkeypatch):
    from secmlops_core.access.policy import LOCAL_OPERATOR, Principal

    _act_as(monkeypatch, LOCAL_OPERATOR)
    at = _app()
    report = at.checkbox(key="attack:report")
    assert report.label == "Report this run to operations" and report.value is False and not report.disabled
    _act_as(monkeypatch, Principal("rt", frozenset({"red_team"}), "Red teamer"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.checkbox(key="attack:report").disabled and not at.button(key="attack:run-button").disabled
