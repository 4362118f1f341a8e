"""A job whose process died reads as failed everywhere, at once: on any read of the job list, at
app start, and even when another process has since been given the dead one's process id."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from secmlops_core.jobs import get_job_manager
from secmlops_core.jobs.manager import FAILED, RUNNING, JobManager
from secmlops_core.os_processes import process_start_time
from tests.conftest import REPO_ROOT

OWNER = textwrap.dedent("""
    import sys, time
    from secmlops_core.access.policy import LOCAL_OPERATOR, set_principal
    from secmlops_core.jobs import get_job_manager
    from secmlops_core.store import get_store
    set_principal(LOCAL_OPERATOR)
    manager = get_job_manager(get_store(sys.argv[1]))

    def work(ctx):
        while True:
            ctx.check()
            time.sleep(0.1)

    print(manager.submit("test", work, title="runs until killed"), flush=True)
    time.sleep(600)
""")


def _status(store, job_id: str) -> str:
    with store.connect() as conn:
        return conn.execute("SELECT status FROM jobs WHERE job_id = ?", [job_id]).fetchone()[0]


def _killed_job(store) -> str:
    """A job left 'running' by a process that was then killed with SIGKILL."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(store.path)], cwd=REPO_ROOT, text=True,
                             stdout=subprocess.PIPE, env={**os.environ, "YOLO_OFFLINE": "true"})
    try:
        job_id = owner.stdout.readline().strip()
        deadline = time.monotonic() + 60
        while _status(store, job_id) != RUNNING:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
    return job_id


def test_any_read_of_the_jobs_fails_a_job_whose_process_was_killed(store):
    manager = JobManager(store)  # made before the kill: its start-up recovery cannot be what fixes it
    job_id = _killed_job(store)
    assert _status(store, job_id) == RUNNING
    record = manager.get(job_id)
    assert record.status == FAILED and "interrupted" in record.error
    assert [j.status for j in manager.list() if j.job_id == job_id] == [FAILED]
    assert manager.pending_count() == 0


def test_app_start_fails_the_jobs_of_a_killed_app(secmlops_home, store):
    from tests.app.conftest import run_page

    get_job_manager(store)  # this process's manager exists already, as in a long-lived server
    job_id = _killed_job(store)
    run_page("designer.py")  # a page that reads no job
    assert _status(store, job_id) == FAILED


def test_a_reused_process_id_does_not_keep_a_dead_job_running(store):
    other = subprocess.Popen(["sleep", "60"])
    try:
        with store.connect() as conn:
            conn.execute("INSERT INTO jobs (job_id, kind, title, resource, status, time_limit_s, owner_pid, "
                         "owner_started) VALUES ('reused', 'test', 'old job', 'cpu', 'running', 60, ?, ?)",
                         [other.pid, process_start_time(other.pid) - 3600])
        assert JobManager(store).get("reused").status == FAILED
    finally:
        other.kill()
        other.wait()


def test_a_live_job_of_another_manager_in_this_process_is_left_alone(store):
    first, second = JobManager(store), JobManager(store)
    release = []

    def work(ctx):
        while not release:
            ctx.check()
            time.sleep(0.05)
        return {}

    job_id = first.submit("test", work, title="still running")
    try:
        deadline = time.monotonic() + 30
        while second.get(job_id).status != RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(5):
            assert second.get(job_id).status == RUNNING
    finally:
        release.append(True)
    assert first.wait(job_id, timeout_s=30).status == "succeeded"
