"""Attack-lab runs end to end: background jobs, persistence, evidence, cancel, failures, poisoning, CLI, gate."""

from __future__ import annotations

import json
import shutil

import pytest

from secmlops_core.errors import UserFacingError

FAST = {"imgsz": 320}


@pytest.fixture()
def manager(store):
    from secmlops_core.jobs import JobManager

    return JobManager(store)


def test_a_run_as_a_job_is_stored_with_thumbnails_and_attached_to_its_threat(store, manager, secmlops_home):
    from secmlops_core.attacks.runs import AttackRequest, get_run, list_runs, submit_attack
    from secmlops_core.evidence import list_evidence

    request = AttackRequest("pgd-vanish", "sample:bus", dict(FAST), "subtle", defenses=("jpeg",), adaptive=True,
                            pipeline_id="pds", threat_id="SML-INF-001")
    job = manager.wait(submit_attack(request, manager=manager), 240)
    assert job.status == "succeeded", job.error
    run = get_run(store, job.result["run_id"])
    assert run.status == "succeeded" and run.device == "cpu" and run.job_id == job.job_id
    assert run.metrics["clean_pedestrians"] == 4 and run.metrics["attacked_pedestrians"] < 4 and run.metrics["success"]
    assert run.params["eps"] == pytest.approx(4 / 255) and run.durations["attack_s"] > 0
    defended = run.result["defended"][0]
    assert defended["defense"] == "jpeg" and {"clean", "non_adaptive", "adaptive"} <= set(defended)
    for name in ("clean", "attacked", "perturbation"):
        assert run.thumbnail(name)[:2] == b"\xff\xd8"
        assert str(secmlops_home) in run.thumbnails[name]
    assert [r.run_id for r in list_runs(store)] == [run.run_id]
    evidence = list_evidence(store, threat_id="SML-INF-001")
    assert len(evidence) == 1 and evidence[0].kind == "attack_run" and evidence[0].outcome == "fail"
    assert evidence[0].source_ref == f"attack_run:{run.run_id}" and evidence[0].pipeline_id == "pds"


def test_a_gpu_that_disappears_under_a_run_falls_back_to_the_cpu(store, manager, monkeypatch):
    """The run is sent to 'cuda:0'; this machine has no NVIDIA driver, so moving the model there
    fails exactly as it does when a GPU falls off the bus. The run completes on the CPU and says so."""
    from secmlops_core.attacks import model as attack_model
    from secmlops_core.attacks.runs import AttackRequest, execute_attack

    monkeypatch.setattr(attack_model, "_gpu_lost_reason", None)
    monkeypatch.setattr(attack_model, "attack_device",
                        lambda: "cpu" if attack_model._gpu_lost_reason else "cuda:0")
    run = execute_attack(AttackRequest("fgsm", "sample:bus", dict(FAST)).check(), store=store)
    assert run.status == "succeeded" and run.device == "cpu"
    assert "ran on the CPU" in run.result["device_fallback"] and "NVIDIA driver" in run.result["device_fallback"]
    assert attack_model.attack_device() == "cpu", "later runs of this process stay on the CPU"


def test_cancel_stops_an_attack_and_leaves_a_cancelled_record(store, manager):
    import time

    from secmlops_core.attacks.runs import AttackRequest, list_runs, submit_attack

    request = AttackRequest("pgd-vanish", "sample:bus", {"imgsz": 160, "steps": 500, "step": 1 / 255}, "subtle")
    job_id = submit_attack(request, manager=manager)
    deadline = time.monotonic() + 60
    while manager.get(job_id).progress <= 0.1 and time.monotonic() < deadline:
        time.sleep(0.1)
    manager.cancel(job_id)
    job = manager.wait(job_id, 60)
    assert job.status == "cancelled"
    assert [r.status for r in list_runs(store)] == ["cancelled"]


def test_bad_input_fails_cleanly_and_is_recorded(store, manager, tmp_path):
    from secmlops_core.attacks.runs import AttackRequest, list_runs, submit_attack

    with pytest.raises(UserFacingError, match="eps"):
        submit_attack(AttackRequest("pgd-vanish", "sample:bus", {"eps": 2}), manager=manager)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    job = manager.wait(submit_attack(AttackRequest("pgd-vanish", str(broken), dict(FAST)), manager=manager), 60)
    assert job.status == "failed" and "not an image" in job.error
    runs = list_runs(store)
    assert runs[0].status == "failed" and "not an image" in runs[0].error


def test_poisoning_stores_a_candidate_that_is_not_live_until_promoted(store, manager, secmlops_home):
    from secmlops_core.attacks.finetune import list_candidates, promote_candidate
    from secmlops_core.attacks.runs import AttackRequest, submit_attack
    from secmlops_core.detector.weights import list_weights
    from secmlops_core.evidence import list_evidence

    request = AttackRequest("poisoning-backdoor", params={"imgsz": 160, "samples": 8, "epochs": 1})
    job = manager.wait(submit_attack(request, manager=manager), 120)
    assert job.status == "succeeded", job.error
    metrics = job.result["metrics"]
    assert {"clean_recall", "triggered_recall", "base_triggered_recall"} <= set(metrics)
    (candidate,) = list_candidates(store)
    assert candidate.promoted_at is None and candidate.path.startswith(str(secmlops_home))
    assert candidate.sha256 not in {w.sha256 for w in list_weights()}
    with pytest.raises(UserFacingError, match="confirm"):
        promote_candidate(store, candidate.candidate_id, "ops-lead", "reviewed")
    from secmlops_core.access import audit
    from secmlops_core.access.policy import PermissionDenied, Principal, acting_as

    with acting_as(Principal("rita", frozenset({"red_team"}), "Rita", "password")):  # ran it, may not promote it
        with pytest.raises(PermissionDenied, match="promote_models"):
            promote_candidate(store, candidate.candidate_id, "rita", "mine", confirm=True)
    assert list_candidates(store)[0].promoted_at is None
    promoted = promote_candidate(store, candidate.candidate_id, "ops-lead", "reviewed", confirm=True)
    assert promoted.promoted_by == "ops-lead"
    actions = [e.action for e in audit.entries(store)]
    assert actions.count("job.submit") == 1 and actions[-2:] == ["weights.register", "model.promote"]
    assert candidate.sha256 in {w.sha256 for w in list_weights()}
    (provenance,) = list_evidence(store, kind="provenance")
    assert candidate.sha256 in provenance.summary and provenance.created_by == "ops-lead"


def test_cli_attack_json_output_and_exit_codes(secmlops_home, capsys, tmp_path):
    from secmlops_core.cli import main

    out = tmp_path / "attacked.png"
    assert main(["attack", "sample:bus", "--attack", "fgsm", "--imgsz", "320", "--json", "-o", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["device"] == "cpu" and printed["metrics"]["clean_pedestrians"] == 4 and out.stat().st_size > 1000
    assert main(["attack", "sample:bus", "--attack", "pgd-vanish", "--eps", "2"]) == 2
    assert "eps = 2.0 is outside (0, 1]" in capsys.readouterr().err
    assert main(["attack", "sample:bus", "--attack", "pgd-vanish", "--steps", "1000000"]) == 2
    assert main(["attack", "sample:bus", "--attack", "fgsm", "--steps", "3"]) == 2


def test_cli_evaluate_builds_the_table_and_gates(secmlops_home, capsys, tmp_path):
    from secmlops_core.attacks.frames import sample_path
    from secmlops_core.cli import main

    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    shutil.copy(sample_path("bus"), images / "bus.jpg")
    (labels / "bus.txt").write_text("0 0.17 0.63 0.28 0.50\n0 0.34 0.62 0.22 0.50\n0 0.87 0.66 0.25 0.53\n")
    args = ["evaluate", "--images", str(images), "--attacks", "pgd-vanish", "--defenses", "jpeg", "--imgsz", "320",
            "--json"]
    assert main(args + ["--labels", str(labels), "--min-robust-recall", "0.9", "--pipeline", "pds"]) == 1
    table = json.loads(capsys.readouterr().out)
    assert table["basis"] == "labels" and [r["defense"] for r in table["rows"]] == ["none", "jpeg"]
    assert table["rows"][0]["robust_recall"]["pgd-vanish"] < table["rows"][0]["clean_recall"]
    assert table["gate"]["passed"] is False
    # The failed gate is evidence the pre-deployment robustness gate reads as a failure.
    from secmlops_core.evidence import list_evidence
    from secmlops_core.governance import workspace
    from secmlops_core.pipeline import library
    from secmlops_core.store import get_store

    store = get_store()
    (evidence,) = list_evidence(store, kind="robustness_evaluation")
    assert evidence.pipeline_id == "pds" and evidence.outcome == "fail" and "minimum 0.9" in evidence.summary
    report = workspace.build(store, library.load_template("pds"), gate_ids=["pre_deployment_robustness"]).report
    (criterion,) = [c for g in report.gates for c in g.criteria if c.criterion.check.kind == "robustness_evaluation"]
    assert criterion.status == "fail" and criterion.evidence_ids == (evidence.evidence_id,)
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["basis"] == "clean-model"
    assert main(["evaluate", "--images", str(images), "--attacks", "deepfool"]) == 2


def test_adversarial_training_is_a_measured_candidate_and_a_row_of_the_tradeoff_table(store, secmlops_home, capsys):
    """The training-time defense on CPU at a small setting: a candidate that never serves until promoted,
    measured against its base, and usable as a row of the evaluation."""
    from secmlops_core.attacks.finetune import list_candidates
    from secmlops_core.cli import main
    from secmlops_core.detector.weights import list_weights

    assert main(["harden", "--epochs", "1", "--samples", "8", "--imgsz", "160", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = out["metrics"]
    assert {"clean_recall", "robust_recall_fgsm", "base_clean_recall", "base_robust_recall_fgsm", "latency_ms",
            "base_latency_ms", "train_s"} <= set(m)
    assert m["base_clean_recall"] == 1.0 and 0 <= m["robust_recall_fgsm"] <= 1 and m["train_s"] > 0
    (candidate,) = list_candidates(store)
    assert candidate.kind == "adv-trained" and candidate.candidate_id == out["candidate_id"]
    assert candidate.sha256 not in {w.sha256 for w in list_weights()}
    assert main(["evaluate", "--images", "samples", "--attacks", "fgsm", "--defenses", "--imgsz", "160",
                 "--hardened", candidate.candidate_id, "--json", "--min-robust-recall", "0",
                 "--gate-defense", f"model:{candidate.candidate_id}"]) == 0
    table = json.loads(capsys.readouterr().out)
    rows = {r["defense"]: r for r in table["rows"]}
    assert set(rows) == {"none", f"model:{candidate.candidate_id}"}
    hardened = rows[f"model:{candidate.candidate_id}"]
    assert hardened["clean_recall"] is not None and hardened["robust_recall"]["fgsm"] is not None
    assert "adversarially trained candidates" in table["settings_note"] and table["gate"]["passed"] is True
    assert main(["harden", "--eps", "2"]) == 2
    assert "eps = 2" in capsys.readouterr().err


def test_demo_runs_stay_out_of_operations_and_a_reported_run_opens_an_incident(store, secmlops_home, capsys):
    from secmlops_core.attacks.demo_summary import last_demo
    from secmlops_core.attacks.runs import AttackRequest, execute_attack
    from secmlops_core.cli import main
    from secmlops_core.evidence import list_evidence
    from secmlops_core.monitoring import incidents
    from secmlops_core.monitoring.evaluate import evaluate
    from secmlops_core.settings import get_settings

    assert last_demo(store) is None
    demos = [execute_attack(AttackRequest("fgsm", "sample:bus", dict(FAST)).check(), store=store) for _ in range(3)]
    assert all(not run.reported_to_operations and run.metrics["success"] for run in demos)
    report = evaluate(store, get_settings())
    assert report.problems == [] and report.opened == [] and incidents.list_incidents(store) == []
    assert last_demo(store).run_id == demos[-1].run_id

    assert main(["attack", "sample:bus", "--attack", "fgsm", "--imgsz", "320", "--defense", "jpeg",
                 "--report-to-operations", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["reported_to_operations"] is True
    evidence = list_evidence(store, source_ref=f"attack_run:{printed['run_id']}")
    assert len(evidence) == 1 and evidence[0].metrics["reported_to_operations"] is True
    report = evaluate(store, get_settings())
    opened = {i.rule_id: i for i in incidents.list_incidents(store)}
    assert "attack-evidence" in opened and len(report.opened) == len(opened) <= 2  # + instability when flagged
    assert {i.details["evidence_id"] for i in opened.values()} == {evidence[0].evidence_id}
    assert evaluate(store, get_settings()).opened == []  # once per run

    demo = last_demo(store)
    assert demo.run_id == printed["run_id"] and demo.reported_to_operations and demo.attack == "fgsm"
    assert demo.attack_title == "FGSM (vanish)" and demo.target == "sample:bus" and demo.target_label == "sample image bus"
    assert demo.pedestrians_before == 4 and demo.pedestrians_after == printed["metrics"]["attacked_pedestrians"]
    assert demo.goal == "vanish" and demo.goal_reached and demo.outcome.startswith("Goal reached (make pedestrians vanish)")
    assert demo.defense.startswith("JPEG compression: ") and "(non-adaptive)" in demo.defense
    assert demo.by == "Local operator" and demo.device == "cpu" and demo.at is not None


def test_reporting_to_operations_needs_the_incident_permission(store):
    from secmlops_core.access.policy import PermissionDenied, Principal, acting_as
    from secmlops_core.attacks.runs import AttackRequest, check_report_permission, submit_attack
    from secmlops_core.jobs import JobManager

    red_team = Principal("rt", frozenset({"red_team"}), "Red teamer")
    operator_red_team = Principal("ort", frozenset({"red_team", "operator"}), "Operator and red teamer")
    reported = AttackRequest("fgsm", "sample:bus", dict(FAST), report_to_operations=True).check()
    with acting_as(red_team):
        check_report_permission(AttackRequest("fgsm", "sample:bus", dict(FAST)).check())  # a demo: allowed
        with pytest.raises(PermissionDenied, match="manage_incidents"):
            submit_attack(reported, manager=JobManager(store))
    assert JobManager(store).list() == []  # refused before anything was queued
    with acting_as(operator_red_team):
        check_report_permission(reported)
