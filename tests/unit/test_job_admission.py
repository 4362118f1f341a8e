"""Launching jobs: permissions from the catalog, per-person attack-lab quotas, the audit trail,
and one GPU job at a time across processes."""

from __future__ import annotations

import threading
import time

import pytest

from secmlops_core.access import audit
from secmlops_core.access.policy import PermissionDenied, Principal, acting_as, job_permissions
from secmlops_core.errors import UserFacingError
from secmlops_core.files import file_lock

VIEWER = Principal("vera", frozenset({"viewer"}), "Vera", "password")
RED = Principal("rita", frozenset({"red_team"}), "Rita", "password")
RED_2 = Principal("rob", frozenset({"red_team"}), "Rob", "password")


@pytest.fixture()
def manager(store):
    from secmlops_core.jobs import JobManager

    return JobManager(store, cpu_slots=1)


def _finish(manager, job_id):
    record = manager.wait(job_id, 20)
    assert record.finished, record
    return record


def test_what_a_job_needs_comes_from_the_catalog():
    assert job_permissions("attack:pgd-vanish", "cpu") == (["run_attacks"], True)
    assert job_permissions("attack:pgd-vanish", "gpu") == (["run_attacks", "run_gpu_jobs"], True)
    assert job_permissions("evaluation", "cpu") == (["run_attacks"], True)
    assert job_permissions("drift-report", "cpu") == (["view"], False)


def test_a_viewer_cannot_launch_an_attack_and_nothing_is_queued(manager):
    with acting_as(VIEWER):
        with pytest.raises(PermissionDenied, match="run_attacks"):
            manager.submit("attack:fgsm", lambda ctx: {}, title="fgsm")
    with acting_as(Principal("nobody", frozenset(), "Nobody", "anonymous")):
        with pytest.raises(PermissionDenied):
            manager.submit("evaluation", lambda ctx: {}, title="eval")
    assert manager.list() == []
    assert [e.action for e in audit.entries(manager.store)] == []


def test_launches_are_audited_with_who_and_what(manager):
    with acting_as(RED):
        job_id = manager.submit("attack:fgsm", lambda ctx: {"ok": True}, title="FGSM on bus.jpg",
                                params={"eps": 0.03})
    _finish(manager, job_id)
    (entry,) = [e for e in audit.entries(manager.store) if e.action == "job.submit"]
    assert entry.actor == "Rita" and entry.subject == job_id
    assert '"attack:fgsm"' in entry.after and '"eps": 0.03' in entry.after


def test_the_hourly_quota_is_per_person_and_counts_only_attack_lab_jobs(manager, monkeypatch):
    from secmlops_core import settings as settings_module

    monkeypatch.setenv("SECMLOPS_ATTACK_JOBS_PER_HOUR", "2")
    settings_module.get_settings.cache_clear()
    with acting_as(RED):
        for _ in range(2):
            _finish(manager, manager.submit("attack:fgsm", lambda ctx: {}, title="fgsm"))
        _finish(manager, manager.submit("test", lambda ctx: {}, title="not an attack"))  # not counted
        with pytest.raises(UserFacingError, match="launched 2 attack-lab jobs in the last hour; the limit is 2"):
            manager.submit("evaluation", lambda ctx: {}, title="third")
    with acting_as(RED_2):  # someone else still may
        _finish(manager, manager.submit("attack:fgsm", lambda ctx: {}, title="fgsm"))
    assert sum(1 for j in manager.list(limit=50) if j.kind != "test") == 3


def test_one_gpu_job_at_a_time_even_across_processes(manager):
    lock = manager.store.path.parent / "gpu.lock"
    ran = threading.Event()
    with file_lock(lock, exclusive=True, blocking=False) as held_elsewhere:  # as another process's GPU job would
        assert held_elsewhere
        job_id = manager.submit("test", lambda ctx: ran.set() or {}, title="gpu work", resource="gpu")
        time.sleep(1.5)
        assert manager.get(job_id).status == "queued" and not ran.is_set()
    assert _finish(manager, job_id).status == "succeeded" and ran.is_set()
    with file_lock(lock, exclusive=True, blocking=False) as free_again:
        assert free_again, "the job gave the device back"
    waiting = None
    with file_lock(lock, exclusive=True, blocking=False):
        waiting = manager.submit("test", lambda ctx: {}, title="never runs", resource="gpu")
        time.sleep(0.6)
        manager.cancel(waiting)
        assert _finish(manager, waiting).status == "cancelled"
