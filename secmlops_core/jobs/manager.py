"""The job manager: persisted queue, resource slots, progress/ETA, cancel, time limits, recovery."""

from __future__ import annotations

import json
import os
import contextvars
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable

from secmlops_core.access import audit
from secmlops_core.access.policy import access_catalog, job_permissions, require
from secmlops_core.errors import UserFacingError
from secmlops_core.settings import get_settings
from secmlops_core.store import Store, get_store
from secmlops_core.store.rows import row_mapper
from secmlops_core.os_processes import process_alive, process_start_time
from secmlops_core.files import file_lock

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
RESOURCES = ("cpu", "gpu")
MAX_TIME_LIMIT_S = 6 * 3600
MAX_PENDING_JOBS = 32
PROGRESS_WRITE_INTERVAL_S = 0.5
CANCEL_POLL_INTERVAL_S = 1.0

class JobCancelled(Exception):
    """Raised inside a job at a safe point after someone asked to cancel it."""


class JobTimedOut(Exception):
    """Raised inside a job that ran past its time limit."""


@dataclass(frozen=True)
class JobRecord:
    """One job as stored."""

    job_id: str
    kind: str
    title: str
    resource: str
    status: str
    params: dict
    progress: float
    message: str
    eta_s: float | None
    time_limit_s: float
    cancel_requested: bool
    owner_pid: int
    ref: str | None
    result: dict | None
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    node: str | None = None  # the Ray node that ran it; None: the app's own process
    device: str | None = None  # the device it ran on, when a Ray worker reported it

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def elapsed_s(self) -> float | None:
        """Seconds between start and end (or now, while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(self.started_at.tzinfo)
        return max(0.0, (end - self.started_at).total_seconds())


_JOB_ROWS = row_mapper(JobRecord, json={"params": {}, "result": None})



def eta_seconds(elapsed_s: float, fraction: float) -> float | None:
    """Seconds left at the pace so far; None until there is enough progress to say."""
    return elapsed_s * (1 - fraction) / fraction if fraction > 0.01 else None


class ProgressAndChecks:
    """``progress()`` and ``check()`` as a job sees them, wherever it runs. Subclasses say where a
    cancel is learned (``_cancel_seen`` / ``_poll_cancel``) and where progress goes (``_write_progress``);
    they carry ``job_id``, ``time_limit_s``, ``started``, ``fraction``, ``message``, ``_last_write``
    and ``_last_poll``."""

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def _cancel_seen(self) -> bool:
        raise NotImplementedError

    def _poll_cancel(self) -> None:
        raise NotImplementedError

    def _write_progress(self, eta_s: float | None) -> None:
        raise NotImplementedError

    def check(self) -> None:
        """Raise JobCancelled / JobTimedOut when the job must stop; call between units of work."""
        now = time.monotonic()
        if not self._cancel_seen() and now - self._last_poll >= CANCEL_POLL_INTERVAL_S:
            self._last_poll = now
            self._poll_cancel()
        if self._cancel_seen():
            raise JobCancelled(f"job {self.job_id} was cancelled")
        if self.elapsed_s > self.time_limit_s:
            raise JobTimedOut(f"the job ran past its time limit of {self.time_limit_s:.0f} s")

    def progress(self, fraction: float, message: str = "", force: bool = False) -> None:
        """Record progress in [0, 1] with a short message (passed on at most twice a second), then check()."""
        self.fraction = min(1.0, max(0.0, float(fraction)))
        self.message = message or self.message
        now = time.monotonic()
        if force or now - self._last_write >= PROGRESS_WRITE_INTERVAL_S:
            self._last_write = now
            self._write_progress(eta_seconds(self.elapsed_s, self.fraction))
        self.check()


@dataclass
class JobContext(ProgressAndChecks):
    """Handed to a running job: progress reporting and cancel/time-limit checks, through the store."""

    job_id: str
    manager: "JobManager"
    time_limit_s: float
    started: float = field(default_factory=time.monotonic)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _last_write: float = 0.0
    _last_poll: float = 0.0
    fraction: float = 0.0
    message: str = ""
    remote: bool = False  # its work runs on a Ray worker

    def _cancel_seen(self) -> bool:
        return self.cancel_event.is_set()

    def _poll_cancel(self) -> None:
        if self.manager.cancel_requested(self.job_id):
            self.cancel_event.set()

    def _write_progress(self, eta_s: float | None) -> None:
        self.manager.write_progress(self.job_id, self.fraction, self.message, eta_s)


class JobManager:
    """Runs jobs on threads of this process and persists every state change in the store; with an
    ``executor`` (a Ray cluster), jobs that offer remote work run it there."""

    def __init__(self, store: Store, cpu_slots: int | None = None, gpu_slots: int = 1, executor=None):
        self.store = store
        self.executor = executor
        self.cpu_slots = cpu_slots or max(1, (os.cpu_count() or 2) // 2)
        self._slots = {"cpu": threading.BoundedSemaphore(self.cpu_slots),
                       "gpu": threading.BoundedSemaphore(max(1, gpu_slots))}
        self._contexts: dict[str, JobContext] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self.recover_interrupted()

    # --- submission -------------------------------------------------------------------
    def submit(self, kind: str, fn: Callable[[JobContext], dict], *, title: str, params: dict | None = None,
               resource: str = "cpu", time_limit_s: float = 600.0, ref: str | None = None, remote=None) -> str:
        """Queue ``fn`` on a background thread; returns the job id at once. With an executor,
        ``remote`` (a RemoteWork) runs on the cluster instead of ``fn``."""
        fn, resource = self._placed(fn, remote, resource)
        job_id = self._create(kind, title, params, resource, time_limit_s, ref)
        context = JobContext(job_id, self, float(time_limit_s), remote=remote is not None and self.executor is not None)
        # The job acts as whoever submitted it: it runs in a copy of the submitter's context.
        submitter = contextvars.copy_context()
        thread = threading.Thread(target=submitter.run, args=(self._run, job_id, fn, context, resource),
                                  name=f"job-{kind}-{job_id}", daemon=True)
        with self._lock:
            self._contexts[job_id] = context
            self._threads[job_id] = thread
        thread.start()
        return job_id

    def run_inline(self, kind: str, fn: Callable[[JobContext], dict], *, title: str, params: dict | None = None,
                   resource: str = "cpu", time_limit_s: float = 600.0, ref: str | None = None,
                   remote=None) -> JobRecord:
        """Run ``fn`` in the calling thread (the CLI) with the same persistence; returns the final record.
        With an executor, ``remote`` runs on the cluster instead, this thread relaying its progress."""
        fn, resource = self._placed(fn, remote, resource)
        job_id = self._create(kind, title, params, resource, time_limit_s, ref)
        context = JobContext(job_id, self, float(time_limit_s), remote=remote is not None and self.executor is not None)
        with self._lock:
            self._contexts[job_id] = context
        self._run(job_id, fn, context, resource)
        return self.get(job_id)

    def _placed(self, fn, remote, resource: str):
        """(the function the job's thread runs, its resource): the remote work through the executor
        when there is one, asking the cluster for a GPU when the work wants one and it has one."""
        if remote is None or self.executor is None:
            return fn, resource
        executor, resource = self.executor, self.executor.resource_for(remote)
        return (lambda ctx: remote.absorb(ctx, executor.run(ctx, remote, resource))), resource

    def _create(self, kind, title, params, resource, time_limit_s, ref) -> str:
        if resource not in RESOURCES:
            raise UserFacingError(f"job resource must be one of {', '.join(RESOURCES)}")
        if not 0 < float(time_limit_s) <= MAX_TIME_LIMIT_S:
            raise UserFacingError(f"job time limit must be between 0 and {MAX_TIME_LIMIT_S} s")
        if self.pending_count() >= MAX_PENDING_JOBS:
            raise UserFacingError(f"{MAX_PENDING_JOBS} jobs are already queued or running; wait or cancel some")
        principal, counted = self._admit(kind, resource)
        job_id = uuid.uuid4().hex[:12]
        with _running_lock:  # before its row exists, so no reader takes the new job for an orphan
            _running_here.add(job_id)
        try:
            self._insert((job_id, kind, title, params, resource, time_limit_s, ref), principal, counted)
        except BaseException:
            with _running_lock:
                _running_here.discard(job_id)
            raise
        return job_id

    def _insert(self, row, principal, counted: bool) -> None:
        job_id, kind, title, params, resource, time_limit_s, ref = row
        with self.store.connect() as conn:
            if counted:
                self._check_quota(conn, principal.label)
            conn.execute(
                "INSERT INTO jobs (job_id, kind, title, resource, status, params, time_limit_s, owner_pid, ref, "
                "submitted_by, owner_started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [job_id, kind, title[:200], resource, QUEUED, json.dumps(params or {}, default=str),
                 float(time_limit_s), os.getpid(), ref, principal.label, _OWN_START])
            audit.record(conn, "job.submit", job_id, None,
                         {"kind": kind, "title": title[:200], "resource": resource, "params": params or {}})

    @staticmethod
    def _admit(kind: str, resource: str):
        """The acting principal, checked against what this kind of job needs; and whether it counts
        against the attack-lab quota."""
        needed, counted = job_permissions(kind, resource)
        principal = None
        for permission in needed:
            principal = require(permission)
        return principal, counted and principal.auth_method != "system"

    @staticmethod
    def _check_quota(conn, submitter: str) -> None:
        limit = get_settings().attack_jobs_per_hour
        if limit <= 0:
            return
        kinds = list(access_catalog().get("jobs", {}).get("permissions", {}))
        launched = conn.execute(
            "SELECT count(*) FROM jobs WHERE submitted_by = ? AND created_at > current_timestamp - INTERVAL 1 HOUR "
            f"AND split_part(kind, ':', 1) IN ({', '.join('?' for _ in kinds)})", [submitter, *kinds]).fetchone()[0]
        if launched >= limit:
            raise UserFacingError(f"{submitter} has launched {launched} attack-lab jobs in the last hour; the limit is "
                                  f"{limit} (setting attack_jobs_per_hour). Try again later.")

    def _run(self, job_id: str, fn, context: JobContext, resource: str) -> None:
        slot = self._slots[resource]
        while not slot.acquire(timeout=0.5):  # queued: stay cancellable while waiting for a slot
            if context.cancel_event.is_set() or self.cancel_requested(job_id):
                self._finish(job_id, CANCELLED, error="cancelled while queued")
                return
        try:
            with self._device(resource, job_id, context) as held:
                if held:
                    self._run_holding(job_id, fn, context)
                else:
                    self._finish(job_id, CANCELLED, error="cancelled while queued")
        finally:
            slot.release()
            with self._lock:
                self._contexts.pop(job_id, None)
                self._threads.pop(job_id, None)
            with _running_lock:
                _running_here.discard(job_id)

    @contextmanager
    def _device(self, resource: str, job_id: str, context: JobContext) -> Iterator[bool]:
        """One GPU job at a time across processes too (the app and a CLI run share the card);
        yields False when the job was cancelled while waiting."""
        if resource != "gpu" or context.remote:  # a Ray task's GPU is assigned by the cluster
            yield True
            return
        while True:
            with file_lock(self.store.path.parent / "gpu.lock", exclusive=True, blocking=False) as held:
                if held:
                    yield True
                    return
            if context.cancel_event.is_set() or self.cancel_requested(job_id):
                yield False
                return
            time.sleep(0.5)

    def _run_holding(self, job_id: str, fn, context: JobContext) -> None:
        if context.cancel_event.is_set() or self.cancel_requested(job_id):
            self._finish(job_id, CANCELLED, error="cancelled while queued")
            return
        context.started = time.monotonic()
        with self.store.connect() as conn:
            conn.execute("UPDATE jobs SET status = ?, started_at = current_timestamp WHERE job_id = ?",
                         [RUNNING, job_id])
        try:
            result = fn(context) or {}
        except JobCancelled:
            self._finish(job_id, CANCELLED, error="cancelled")
        except JobTimedOut as exc:
            self._finish(job_id, FAILED, error=str(exc))
        except UserFacingError as exc:
            self._finish(job_id, FAILED, error=str(exc))
        except Exception as exc:  # a job's own bug must leave a failed record, not a hung page
            detail = traceback.format_exc(limit=6)
            self._finish(job_id, FAILED, error=f"{type(exc).__name__}: {exc}\n{detail}"[:4000])
        else:
            self._finish(job_id, SUCCEEDED, result=result)

    def _finish(self, job_id: str, status: str, result: dict | None = None, error: str | None = None) -> None:
        progress_sql = ", progress = 1, eta_s = 0" if status == SUCCEEDED else ""
        with self.store.connect() as conn:
            conn.execute(
                f"UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = current_timestamp{progress_sql} "
                "WHERE job_id = ?",
                [status, json.dumps(result, default=str) if result is not None else None, error, job_id])

    def write_progress(self, job_id: str, fraction: float, message: str, eta_s: float | None) -> None:
        """Store a job's progress fraction, message (at most 300 characters) and estimated seconds left."""
        with self.store.connect() as conn:
            conn.execute("UPDATE jobs SET progress = ?, message = ?, eta_s = ? WHERE job_id = ?",
                         [fraction, message[:300], eta_s, job_id])

    def record_placement(self, job_id: str, node: str, device: str) -> None:
        """Store the Ray node and device that run a job."""
        with self.store.connect() as conn:
            conn.execute("UPDATE jobs SET node = ?, device = ? WHERE job_id = ?", [node[:300], device[:200], job_id])

    # --- control and queries ----------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop (any process); False when it has already finished."""
        with self.store.connect() as conn:
            row = conn.execute("SELECT status FROM jobs WHERE job_id = ?", [job_id]).fetchone()
            if row is None:
                raise UserFacingError(f"no job with id {job_id!r}")
            if row[0] in FINISHED:
                return False
            conn.execute("UPDATE jobs SET cancel_requested = true WHERE job_id = ?", [job_id])
        with self._lock:
            context = self._contexts.get(job_id)
        if context is not None:
            context.cancel_event.set()
        return True

    def cancel_requested(self, job_id: str) -> bool:
        with self.store.connect() as conn:
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE job_id = ?", [job_id]).fetchone()
        return bool(row and row[0])

    def get(self, job_id: str) -> JobRecord | None:
        """The stored record of one job (a job whose process died reads as failed)."""
        with self.store.connect() as conn:
            self._fail_orphans(conn)
            return _JOB_ROWS.by_key(conn, "jobs", "job_id", job_id)

    def list(self, kind: str | None = None, limit: int = 20) -> list[JobRecord]:
        """Jobs, newest first, optionally of one kind (or kind prefix ending in '*'); jobs whose
        process died read as failed."""
        where, params = "", []
        if kind:
            where, params = ("WHERE kind LIKE ?", [kind[:-1] + "%"]) if kind.endswith("*") else ("WHERE kind = ?", [kind])
        with self.store.connect() as conn:
            self._fail_orphans(conn)
            rows = conn.execute(f"SELECT {_JOB_ROWS.columns} FROM jobs {where} ORDER BY created_at DESC LIMIT ?",
                                [*params, int(limit)]).fetchall()
        return _JOB_ROWS.all(rows)

    def pending_count(self) -> int:
        """Jobs queued or running in any process that is still alive."""
        with self.store.connect() as conn:
            self._fail_orphans(conn)
            return conn.execute("SELECT count(*) FROM jobs WHERE status IN (?, ?)", [QUEUED, RUNNING]).fetchone()[0]

    def wait(self, job_id: str, timeout_s: float | None = None) -> JobRecord:
        """Block until a job of this manager finishes (tests, CLI); returns its record."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout_s)
        return self.get(job_id)

    def recover_interrupted(self) -> int:
        """Mark queued/running jobs whose owning process is gone as failed; returns how many."""
        with self.store.connect() as conn:
            return self._fail_orphans(conn)

    def _fail_orphans(self, conn) -> int:
        rows = conn.execute("SELECT job_id, owner_pid, owner_started FROM jobs WHERE status IN (?, ?)",
                            [QUEUED, RUNNING]).fetchall()
        if not rows:
            return 0
        with self._lock, _running_lock:
            mine = set(self._contexts) | _running_here
        dead = [job_id for job_id, pid, started in rows if job_id not in mine and _owner_gone(pid, started)]
        for job_id in dead:
            conn.execute(
                "UPDATE jobs SET status = ?, error = ?, finished_at = current_timestamp WHERE job_id = ?",
                [FAILED, "interrupted: the process running this job ended before it finished", job_id])
        return len(dead)


_OWN_START = process_start_time()
# Jobs that some manager of this process is running now (managers of one process share it).
_running_here: set[str] = set()
_running_lock = threading.Lock()


def _owner_gone(pid: int, started: float | None) -> bool:
    """Whether the process that owned a job has ended. A job recorded under this process's id
    that no manager here is running belongs to an earlier process that had the same id."""
    if pid == os.getpid():
        return True
    return not process_alive(pid, started)


_managers: dict[str, JobManager] = {}
_managers_lock = threading.Lock()


def get_job_manager(store: Store | None = None) -> JobManager:
    """The process-wide manager for a store (default: the configured store)."""
    store = store or get_store()
    key = str(store.path.resolve())
    with _managers_lock:
        if key not in _managers:
            from secmlops_core.jobs.ray_executor import ray_executor

            _managers[key] = JobManager(store, executor=ray_executor(get_settings().ray_address))
        return _managers[key]
