"""The job manager: persistence, progress/ETA, cancel (queued and running), time limits, failures, recovery."""

from __future__ import annotations

import os
import threading
import time

import pytest

from secmlops_core.errors import UserFacingError


@pytest.fixture()
def manager(store):
    from secmlops_core.jobs import JobManager

    return JobManager(store, cpu_slots=1)


def _wait(manager, job_id, timeout=20):
    record = manager.wait(job_id, timeout)
    assert record.finished, record
    return record


def test_a_job_runs_in_the_background_and_persists_progress_and_result(manager):
    gate = threading.Event()

    def work(ctx):
        ctx.progress(0.5, "half way", force=True)
        gate.wait(5)
        return {"answer": 42}

    job_id = manager.submit("test", work, title="demo", params={"n": 1})
    deadline = time.monotonic() + 5
    while manager.get(job_id).progress < 0.5 and time.monotonic() < deadline:
        time.sleep(0.05)
    running = manager.get(job_id)
    assert running.status == "running" and running.message == "half way" and running.eta_s is not None
    gate.set()
    done = _wait(manager, job_id)
    assert done.status == "succeeded" and done.result == {"answer": 42} and done.progress == 1
    assert done.params == {"n": 1} and done.elapsed_s is not None
    assert [j.job_id for j in manager.list("test")] == [job_id]


def test_cancel_stops_a_running_job_at_its_next_check(manager):
    started = threading.Event()

    def work(ctx):
        started.set()
        while True:
            time.sleep(0.02)
            ctx.check()

    job_id = manager.submit("test", work, title="forever")
    assert started.wait(5)
    assert manager.cancel(job_id)
    assert _wait(manager, job_id).status == "cancelled"
    assert manager.cancel(job_id) is False


def test_cpu_slots_queue_jobs_and_a_queued_job_can_be_cancelled(manager):
    release = threading.Event()
    first = manager.submit("test", lambda ctx: release.wait(5) and {}, title="holder")
    second = manager.submit("test", lambda ctx: {"ran": True}, title="waiting")
    time.sleep(0.3)
    assert manager.get(second).status == "queued"
    manager.cancel(second)
    release.set()
    assert _wait(manager, second).status == "cancelled"
    assert _wait(manager, first).status == "succeeded"


def test_time_limit_and_errors_leave_failed_records(manager):
    def slow(ctx):
        while True:
            time.sleep(0.05)
            ctx.check()

    timed = manager.submit("test", slow, title="slow", time_limit_s=0.3)
    broken = manager.submit("test", lambda ctx: 1 / 0, title="broken")
    refused = manager.submit("test", lambda ctx: (_ for _ in ()).throw(UserFacingError("bad input")), title="refused")
    assert "time limit" in _wait(manager, timed).error
    assert _wait(manager, broken).error.startswith("ZeroDivisionError")
    assert _wait(manager, refused).error == "bad input"


def test_invalid_submissions_are_refused(manager):
    with pytest.raises(UserFacingError, match="resource"):
        manager.submit("test", lambda ctx: {}, title="x", resource="tpu")
    with pytest.raises(UserFacingError, match="time limit"):
        manager.submit("test", lambda ctx: {}, title="x", time_limit_s=-1)


def test_jobs_of_a_dead_process_are_marked_failed_on_next_start(store):
    from secmlops_core.jobs import JobManager

    with store.connect() as conn:
        conn.execute("INSERT INTO jobs (job_id, kind, title, resource, status, time_limit_s, owner_pid) "
                     "VALUES ('ghost1', 'attack:pgd-vanish', 'killed mid-run', 'cpu', 'running', 60, 999999999)")
        conn.execute("INSERT INTO jobs (job_id, kind, title, resource, status, time_limit_s, owner_pid) "
                     "VALUES ('alive1', 'attack:pgd-vanish', 'another live process', 'cpu', 'running', 60, ?)",
                     [os.getppid()])
    manager = JobManager(store)
    ghost = manager.get("ghost1")
    assert ghost.status == "failed" and "interrupted" in ghost.error and ghost.finished_at is not None
    assert manager.get("alive1").status == "running"


def test_run_inline_persists_like_a_background_job(manager):
    record = manager.run_inline("test", lambda ctx: {"ok": True}, title="inline")
    assert record.status == "succeeded" and record.result == {"ok": True} and record.owner_pid == os.getpid()
