"""Governance core: catalogs, RACI validation and gaps, gates from evidence, coverage,
maturity, provenance and permissions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from secmlops_core.access import audit
from secmlops_core.access.policy import PermissionDenied, Principal, acting_as
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.evidence import add_evidence, list_evidence
from secmlops_core.governance import compliance, gates, people, provenance, technology
from secmlops_core.governance.definitions import default_raci, lifecycle_stages, load_frameworks, load_gates
from secmlops_core.governance.history import list_changes
from secmlops_core.governance.maturity import maturity
from secmlops_core.governance.workspace import build
from secmlops_core.pipeline import library
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import assess_stored

VIEWER = Principal("v", frozenset({"viewer"}))


@pytest.fixture()
def pds(store, pds_pipeline):
    """The PDS pipeline saved as version 1, with its threat register generated."""
    library.save_version(store, pds_pipeline, "template")
    assess_stored(store, pds_pipeline)
    return pds_pipeline


def _gate(ws, gate_id):
    return next(g for g in ws.report.gates if g.gate.id == gate_id)


def _criterion(ws, gate_id, criterion_id):
    return next(c for c in _gate(ws, gate_id).criteria if c.criterion.id == criterion_id)


def _build(store, pipeline):
    return build(store, pipeline, served=[])


# ----------------------------------------------------------------------------- catalogs
def test_catalogs_carry_the_framework_identifiers_and_one_accountable_per_row():
    frameworks = load_frameworks()
    assert {r.group for r in frameworks["nist_ai_rmf"].requirements} == {"GOVERN", "MAP", "MEASURE", "MANAGE"}
    eu = {r.id for r in frameworks["eu_ai_act"].requirements}
    assert {"Art. 9", "Art. 10", "Art. 12", "Art. 14", "Art. 15"} <= eu
    assert {"6.1.2", "8.1", "9.1", "A.7"} <= {r.id for r in frameworks["iso_iec_42001"].requirements}
    assert [g.id for g in load_gates()] == ["design_review", "data_validation", "training_provenance",
                                            "pre_deployment_robustness", "signed_deployment", "monitoring_in_place"]
    rows = default_raci()
    assert len(rows) == len(lifecycle_stages()) + 60
    assert all(sum("A" in letters for letters in cells.values()) == 1 for cells in rows.values())


# ----------------------------------------------------------------------------- RACI
def test_two_accountable_roles_are_refused_and_nothing_is_written(store, pds):
    with pytest.raises(ValidationFailed, match="2 accountable roles"):
        people.set_raci_rows(store, "pds", {("stage", "monitoring"): {"security_operations": "A", "red_team": "AR"}})
    assert people.load_raci(store, "pds").accountable("stage", "monitoring") == "security_operations"
    assert not people.load_raci(store, "pds").edited


def test_import_names_unknown_roles_controls_and_stages(store, pds):
    text = ("stages:\n  monitoring: {security_operations: A, chief_wizard: R}\n  launch: {red_team: A}\n"
            "controls:\n  CTL-NOPE: {red_team: A}\n  CTL-TLS: {ml_engineer: X}\n")
    with pytest.raises(ValidationFailed) as caught:
        people.import_raci(store, "pds", text)
    problems = "\n".join(caught.value.problems)
    for fragment in ("unknown role 'chief_wizard'", "unknown lifecycle stage 'launch'", "unknown control 'CTL-NOPE'",
                     "'X' is not made of R, A, C, I"):
        assert fragment in problems
    assert not people.load_raci(store, "pds").edited
    with pytest.raises(UserFacingError, match="not valid YAML"):
        people.import_raci(store, "pds", "stages: [unclosed")


def test_raci_round_trips_through_export_and_csv_import(store, pds):
    raci = people.load_raci(store, "pds")
    assert people.parse_raci(people.export_raci(raci)) == raci.rows
    csv_text = "row_type,row_id,red_team,ml_engineer\nstage,model_evaluation,AR,C\n"
    assert people.import_raci(store, "pds", csv_text, "csv") == 1
    assert people.load_raci(store, "pds").rows[("stage", "model_evaluation")] == {"red_team": "AR", "ml_engineer": "C"}


def test_gap_for_a_stage_and_its_high_threats_closes_when_an_accountable_is_assigned(store, pds):
    ws = _build(store, pds)
    assert not ws.blocking_gaps()
    people.set_raci_rows(store, "pds", {("stage", "monitoring"): {"security_operations": "R", "ml_engineer": "C"}})
    ws = _build(store, pds)
    high_monitoring = [t for t in ws.assessment.open_threats() if t.threat.rule.lifecycle == "monitoring"
                       and t.residual_risk.band in ("high", "critical")]
    assert high_monitoring
    gaps = ws.blocking_gaps()
    assert [g.kind for g in gaps].count("stage") == 1
    assert {g.subject_id for g in gaps if g.kind == "threat"} == {t.id for t in high_monitoring}
    assert all(g.row == ("stage", "monitoring") for g in gaps)
    assert _criterion(ws, "design_review", "accountable").status == gates.FAIL
    people.set_accountable(store, "pds", "stage", "monitoring", "security_operations")
    ws = _build(store, pds)
    assert not ws.blocking_gaps()
    assert people.load_raci(store, "pds").rows[("stage", "monitoring")] == {"security_operations": "AR",
                                                                            "ml_engineer": "C"}
    assert _criterion(ws, "design_review", "accountable").status == gates.PASS


def test_staffing_warning_until_someone_is_assigned_and_role_edits_are_kept(store, pds):
    warnings = {g.subject_id for g in _build(store, pds).gaps if g.severity == "warning"}
    assert "security_operations" in warnings
    profile = people.update_role(store, "security_operations", name="SOC", people="Ada, Grace, Ada")
    assert (profile.name, profile.people) == ("SOC", ("Ada", "Grace"))
    assert "security_operations" not in {g.subject_id for g in _build(store, pds).gaps}
    with pytest.raises(ValidationFailed, match="name must be"):
        people.update_role(store, "security_operations", name="  ")
    with pytest.raises(UserFacingError, match="unknown role"):
        people.update_role(store, "janitor", name="x")


def test_changes_are_in_the_history_and_the_audit_trail(store, pds):
    people.set_accountable(store, "pds", "stage", "design", "ai_risk_owner")
    change = list_changes(store, "pds")[0]
    assert (change.area, change.subject, change.changed_by) == ("raci", "stage:design", "Local operator")
    assert change.before["ml_security_architect"] == "AR" and change.after["ai_risk_owner"] == "AC"
    entry = audit.entries(store, action="governance.raci")[-1]
    assert entry.subject == "pds:stage:design" and audit.verify_chain(store).ok


def test_viewer_is_refused_every_change(store, pds, tmp_path):
    (tmp_path / "d.bin").write_bytes(b"x")
    before = len(audit.entries(store))
    changes = [
        lambda: people.update_role(store, "red_team", name="Red"),
        lambda: people.set_raci_rows(store, "pds", {("stage", "design"): {"red_team": "A"}}),
        lambda: people.import_raci(store, "pds", "stages: {design: {red_team: A}}"),
        lambda: technology.set_control_status(store, "pds", {"CTL-TLS": {"status": "implemented"}}),
        lambda: compliance.set_mappings(store, {"eu_ai_act": {"Art. 73": ["CTL-AUDIT-LOG"]}}),
        lambda: gates.record_report(store, _build(store, pds).report),
        lambda: provenance.approve_weights(store, "pds"),
        lambda: provenance.record_dataset_hash(store, "pds", "d", tmp_path / "d.bin"),
        lambda: provenance.set_live_detector_link(store, "pds", False),
    ]
    with acting_as(VIEWER):
        for change in changes:
            with pytest.raises(PermissionDenied, match="edit_governance"):
                change()
    assert len(audit.entries(store)) == before
    assert not list_evidence(store, pipeline_id="pds")


# ----------------------------------------------------------------------------- gates
def test_missing_evidence_is_reported_never_passed(store, pds):
    ws = _build(store, pds)
    robustness = _gate(ws, "pre_deployment_robustness")
    assert robustness.status != gates.PASS
    assert _criterion(ws, "pre_deployment_robustness", "evaluation").status == gates.NO_EVIDENCE
    assert _criterion(ws, "pre_deployment_robustness", "red_team").status == gates.NO_EVIDENCE
    assert _criterion(ws, "monitoring_in_place", "drift").status == gates.NO_EVIDENCE
    assert _criterion(ws, "signed_deployment", "approval").status == gates.NO_EVIDENCE
    assert _criterion(ws, "data_validation", "dataset_hashes").status == gates.NO_EVIDENCE
    assert not ws.report.passed


def test_robustness_gate_follows_the_newest_evaluation_and_its_age(store, pds):
    add_evidence(store, "robustness_evaluation", "eval:1", "PGD recall 0.71 >= 0.6", pipeline_id="pds", outcome="pass")
    add_evidence(store, "attack_run", "run:1", "PGD vanish on bus.jpg", outcome="fail")  # unattached: live detector
    ws = _build(store, pds)
    assert _criterion(ws, "pre_deployment_robustness", "evaluation").status == gates.PASS
    assert _criterion(ws, "pre_deployment_robustness", "red_team").status == gates.PASS
    failed = add_evidence(store, "robustness_evaluation", "eval:2", "PGD recall 0.32 < 0.6", pipeline_id="pds",
                          outcome="fail")
    with store.connect() as conn:  # make the newer one unambiguously newer
        conn.execute("UPDATE evidence SET created_at = created_at + INTERVAL 1 SECOND WHERE evidence_id = ?",
                     [failed.evidence_id])
    result = _criterion(_build(store, pds), "pre_deployment_robustness", "evaluation")
    assert (result.status, result.evidence_ids) == (gates.FAIL, (failed.evidence_id,))
    with store.connect() as conn:
        conn.execute("UPDATE evidence SET created_at = ? WHERE kind = 'robustness_evaluation'",
                     [datetime.now() - timedelta(days=120)])
    assert _criterion(_build(store, pds), "pre_deployment_robustness", "evaluation").status == gates.NO_EVIDENCE


def test_unattached_evidence_counts_only_for_the_live_detector_pipeline(store, pds):
    add_evidence(store, "drift_snapshot", "drift:1", "Drift on all cameras: 0/5 columns drifted", outcome="pass")
    assert _criterion(_build(store, pds), "monitoring_in_place", "drift").status == gates.PASS
    provenance.set_live_detector_link(store, "pds", False)
    ws = _build(store, pds)
    assert _criterion(ws, "monitoring_in_place", "drift").status == gates.NO_EVIDENCE
    assert _criterion(ws, "signed_deployment", "weights_hash").status == gates.NO_EVIDENCE


def test_active_critical_incident_fails_monitoring(store, pds):
    from secmlops_core.monitoring.incidents import open_manual, set_status

    add_evidence(store, "drift_snapshot", "drift:1", "no drift", outcome="pass")
    assert _criterion(_build(store, pds), "monitoring_in_place", "incidents").status == gates.PASS
    incident_id = open_manual(store, "Pedestrians vanish on camera 3", "critical", "security_operations", "ops")
    assert _criterion(_build(store, pds), "monitoring_in_place", "incidents").status == gates.FAIL
    set_status(store, incident_id, "resolved", "ops", "patched")
    assert _criterion(_build(store, pds), "monitoring_in_place", "incidents").status == gates.PASS


def test_design_review_passes_once_threats_are_treated_and_goes_stale_on_a_new_version(store, pds):
    ws = _build(store, pds)
    critical = [t.id for t in ws.assessment.open_threats() if t.residual_risk.band == "critical"]
    reg.update_entries(store, "pds", {tid: {"status": "mitigated"} for tid in critical})
    technology.set_control_status(store, "pds", {"CTL-THREAT-MODEL-REVIEW": {"status": "implemented"}})
    ws = _build(store, pds)
    assert ws.version == 1
    assert _gate(ws, "design_review").status == gates.PASS
    changed = library.load_version(store, "pds")
    changed.stages[0].properties["internet_facing"] = True
    changed.stages[0].properties["exposes_api"] = True
    library.save_version(store, changed, "camera API")
    ws = _build(store, changed)
    assert {t.id for t in ws.assessment.threats} != {t.id for t in _build(store, pds).assessment.threats}
    assert _criterion(ws, "design_review", "current").status == gates.FAIL
    assert ws.version == 2
    assess_stored(store, changed)
    assert _criterion(_build(store, changed), "design_review", "current").status == gates.PASS


def test_controls_approval_and_weights_criteria(store, pds):
    ws = _build(store, pds)
    assert _criterion(ws, "signed_deployment", "weights_hash").status == gates.PASS  # shipped file verifies
    assert _criterion(ws, "signed_deployment", "model_flows").status == gates.FAIL
    provenance.approve_weights(store, "pds", note="release 1")
    technology.set_control_status(store, "pds", {"CTL-SIGN-ARTIFACTS": {"status": "implemented"},
                                                 "CTL-RELEASE-APPROVAL": {"status": "not_applicable"}})
    ws = _build(store, pds)
    assert _criterion(ws, "signed_deployment", "approval").status == gates.PASS
    assert _criterion(ws, "signed_deployment", "controls").status == gates.PASS
    link = {link.step: link.status for link in ws.chain.links}
    assert link["Approval"] == provenance.OK and link["Registry entry"] == provenance.OK
    assert link["Deployment"] == provenance.MISSING


def test_recorded_gate_report_is_gate_result_evidence(store, pds):
    records = gates.record_report(store, _build(store, pds).report)
    assert len(records) == 6 and all(r.kind == "gate_result" for r in records)
    stored = list_evidence(store, pipeline_id="pds", kind="gate_result")
    assert {e.metrics["id"] for e in stored} == {g.id for g in load_gates()}
    assert all(e.outcome in ("fail", "info") and e.metrics["pipeline_version"] == 1 for e in stored)


# ----------------------------------------------------------------------------- coverage and maturity
def test_compliance_coverage_numbers(store, pds):
    technology.set_control_status(store, "pds", {"CTL-HUMAN-REVIEW": {"status": "implemented"},
                                                 "CTL-SAFETY-FALLBACK": {"status": "not_applicable"},
                                                 "CTL-ROLLBACK": {"status": "planned"}})
    eu = _build(store, pds).coverage["eu_ai_act"]
    by_id = {r.requirement.id: r for r in eu.requirements}
    assert (by_id["Art. 14"].status, round(by_id["Art. 14"].share, 4)) == ("partial", round(2 / 3, 4))
    assert by_id["Art. 14"].missing == ("CTL-ROLLBACK",)
    assert by_id["Art. 15"].share == pytest.approx(1 / 8)
    assert by_id["Art. 26"].share == pytest.approx(1 / 3)
    assert eu.coverage == pytest.approx((2 / 3 + 1 / 8 + 1 / 3) / 11)
    assert eu.counts() == {"covered": 0, "partial": 3, "gap": 8, "unmapped": 0}
    nist = _build(store, pds).coverage["nist_ai_rmf"]
    assert nist.counts()["unmapped"] == 1 and nist.gaps()[0].share == 0


def test_mapping_edits_change_coverage_and_bad_mappings_are_refused(store, pds):
    technology.set_control_status(store, "pds", {"CTL-AUDIT-LOG": {"status": "implemented"}})
    assert compliance.set_mappings(store, {"eu_ai_act": {"Art. 73": ["CTL-AUDIT-LOG"]}}) == 1
    art73 = next(r for r in _build(store, pds).coverage["eu_ai_act"].requirements if r.requirement.id == "Art. 73")
    assert (art73.status, art73.edited) == ("covered", True)
    with pytest.raises(ValidationFailed) as caught:
        compliance.import_mappings(store, "eu_ai_act:\n  Art. 99: [CTL-TLS]\n  Art. 9: [CTL-MAGIC]\nsox: {}\n")
    problems = "\n".join(caught.value.problems)
    assert "unknown requirement" in problems and "CTL-MAGIC" in problems and "unknown framework 'sox'" in problems


def test_maturity_formula(store, pds):
    ws = _build(store, pds)
    statuses = {cid: "implemented" for cid in ws.controls}
    coverages = compliance.coverage(store, statuses)
    scores = {m.component: m for m in maturity(statuses, coverages, ws.report, (2, 8))}
    people_score = scores["people"]
    assert (people_score.implementation, people_score.coverage, people_score.operation) == (1.0, 1.0, 0.25)
    assert people_score.score == pytest.approx(5 * (0.5 + 0.25 + 0.25 * 0.25), abs=0.05)
    assert all(m.score <= 5 for m in scores.values())
    empty = {m.component: m.score for m in maturity({}, compliance.coverage(store, {}), ws.report, (0, 8))}
    assert set(empty.values()) == {0.0}


# ----------------------------------------------------------------------------- provenance
def test_dataset_hash_of_a_folder_is_a_manifest_and_changes_with_content(store, pds, tmp_path):
    folder = tmp_path / "pedestrians"
    (folder / "img").mkdir(parents=True)
    (folder / "img" / "a.jpg").write_bytes(b"aaa")
    (folder / "labels.txt").write_text("1 0.5 0.5 0.1 0.2\n")
    record = provenance.record_dataset_hash(store, "pds", "pedestrians v1", folder)
    assert (record.files, record.size_bytes) == (2, 21)
    assert provenance.hash_path(folder)[0] == record.sha256
    (folder / "img" / "a.jpg").write_bytes(b"aab")
    assert provenance.hash_path(folder)[0] != record.sha256
    assert _criterion(_build(store, pds), "data_validation", "dataset_hashes").status == gates.PASS
    with pytest.raises(UserFacingError, match="no such file"):
        provenance.record_dataset_hash(store, "pds", "ghost", tmp_path / "missing")
