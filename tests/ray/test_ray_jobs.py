"""Attack-lab jobs on a real local Ray cluster: an attack, a cancel, a time limit, a fanned-out
evaluation equal to the in-process one, refused weights, and a worker killed under its job."""

from __future__ import annotations

import os
import signal
import time

import pytest

from secmlops_core.attacks.runs import AttackRequest, get_run, submit_attack

pytestmark = pytest.mark.slow
IMGSZ = 320


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _long_attack(manager, time_limit_s: float = 300.0) -> str:
    request = AttackRequest("pgd-vanish", params={"imgsz": IMGSZ, "steps": 400})
    return submit_attack(request, manager=manager, time_limit_s=time_limit_s)


def _attacking(manager, job_id: str):
    job = manager.get(job_id)
    return job if job.finished or (job.message or "").startswith("step") else None


def test_attack_runs_on_a_ray_worker_and_comes_back_into_the_store(ray_manager, secmlops_home):
    job_id = submit_attack(AttackRequest("pgd-vanish", params={"imgsz": IMGSZ, "steps": 3}), manager=ray_manager)
    job = ray_manager.wait(job_id, timeout_s=240)
    assert job.status == "succeeded", job.error
    assert "node" in job.node and job.device == "cpu"
    assert job.progress == 1.0
    run = get_run(ray_manager.store, job.result["run_id"])
    assert run.job_id == job_id and run.device == "cpu" and run.metrics["clean_pedestrians"] == 4
    assert run.metrics["attacked_pedestrians"] < run.metrics["clean_pedestrians"]
    for name in ("clean", "attacked", "perturbation", "attacked_png"):
        path = run.thumbnails[name]
        assert path.startswith(str(secmlops_home)) and os.path.getsize(path) > 1000, name
    assert run.thumbnail("attacked")[:2] == b"\xff\xd8"


def test_cancel_reaches_the_remote_task_within_seconds(ray_manager):
    job_id = _long_attack(ray_manager)
    _wait_for(lambda: _attacking(ray_manager, job_id), 240, "the attack to start its steps")
    asked = time.monotonic()
    assert ray_manager.cancel(job_id)
    job = ray_manager.wait(job_id, timeout_s=30)
    assert job.status == "cancelled"
    assert time.monotonic() - asked < 8


def test_time_limit_holds_on_the_cluster(ray_manager):
    job_id = _long_attack(ray_manager, time_limit_s=6)
    job = ray_manager.wait(job_id, timeout_s=60)
    assert job.status == "failed" and "time limit of 6 s" in job.error


def test_fanned_out_evaluation_equals_the_in_process_one(ray_address, secmlops_home):
    from secmlops_core.attacks.evaluation import evaluate
    from secmlops_core.attacks.frames import sample_images
    from secmlops_core.jobs.ray_executor import ray_executor

    images = sample_images()
    options = {"imgsz": 256, "preset": "subtle"}
    fanned = evaluate(images, ["fgsm"], ["jpeg"], executor=ray_executor(ray_address), **options)
    local = evaluate(images, ["fgsm"], ["jpeg"], **options)

    def measured(evaluation):
        rows = [{k: v for k, v in row.items() if k not in ("latency_ms", "overhead_ms")} for row in evaluation.rows]
        return rows, evaluation.instability, evaluation.reference_pedestrians, evaluation.images, evaluation.basis

    assert measured(fanned) == measured(local)
    assert fanned.workers and all("pid" in w for w in fanned.workers)
    assert fanned.rows[0]["clean_recall"] == 1.0


def test_a_worker_refuses_weights_whose_content_does_not_match_their_hash():
    from secmlops_core.attacks.remote import WeightsParcel, load_received_model
    from secmlops_core.detector.weights import builtin_weights
    from secmlops_core.errors import UserFacingError

    entry = builtin_weights()[0]
    with pytest.raises(UserFacingError, match="refusing weights"):
        load_received_model(WeightsParcel(entry, b"not the pinned checkpoint"))


def test_a_killed_worker_leaves_a_failed_record_with_the_reason(ray_manager):
    job_id = _long_attack(ray_manager)
    _wait_for(lambda: _attacking(ray_manager, job_id), 240, "the attack to start its steps")
    placement = ray_manager.executor.placement(job_id)
    assert placement is not None and placement.pid != os.getpid()
    os.kill(placement.pid, signal.SIGKILL)
    job = ray_manager.wait(job_id, timeout_s=60)
    assert job.status == "failed"
    assert "worker running this job died" in job.error


def test_the_cli_reports_the_ray_node_that_ran_the_attack(ray_address, secmlops_home):
    import json
    import subprocess
    import sys

    env = {**os.environ, "SECMLOPS_RAY_ADDRESS": ray_address, "SECMLOPS_HOME": str(secmlops_home)}
    done = subprocess.run([sys.executable, "-m", "secmlops_core", "attack", "sample:bus", "--attack", "pgd-vanish",
                           "--imgsz", str(IMGSZ), "--steps", "2", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["job"]["executor"] == "ray" and "node" in report["job"]["node"]
    assert report["job"]["device"] == "cpu" and report["device"] == "cpu"
