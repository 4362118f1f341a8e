"""Jobs as Ray tasks: the executor the job manager uses when ``ray_address`` is set.

The job contract stays the manager's: admission, the stored record, slots, progress, ETA,
cancel and time limits are handled in the app's process. What runs on the cluster is the
job's :class:`RemoteWork`: ``compute(worker_ctx, *args)`` on a worker, returning plain data
(results, files as bytes), and ``absorb(ctx, value)`` back in the app, which writes the
store and the data directory. Workers never open the app's store.

Progress and cancel travel through one small Ray actor per app process (:class:`JobBoard`):
the task reports to it and polls it for a cancel; the app's thread for the job reads it,
writes the stored record, and after a grace period cancels the task with
``ray.cancel(force=True)``. A worker or node that dies makes ``ray.get`` raise, and the job
fails with that reason (tasks are never retried: a retried attack would run twice).

``ray`` is imported only here, and only when an executor is used.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from secmlops_core.errors import UserFacingError
from secmlops_core.jobs.manager import JobCancelled, JobTimedOut, ProgressAndChecks, eta_seconds

RAY_NAMESPACE = "secmlops"
# After a cancel or a time limit, the task has this long to stop at a safe point before it is killed.
CANCEL_GRACE_S = 3.0
WAIT_INTERVAL_S = 0.5
BOARD_CALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RemoteWork:
    """What a job runs on a Ray worker: ``compute(worker_ctx, *args)`` there (module-level
    function, picklable arguments, plain-data result), then ``absorb(ctx, value)`` in the app
    (stores the result; returns the job's result dict). ``accelerated``: it wants a GPU when
    the cluster has one."""

    compute: Callable[..., Any]
    args: tuple
    absorb: Callable[[Any, Any], dict]
    accelerated: bool = True


@dataclass(frozen=True)
class Placement:
    """Where a task runs: the node (host, address, Ray node id), the device and the worker's process id."""

    node: str
    device: str
    pid: int


class WorkerContext(ProgressAndChecks):
    """The job context a task sees on a worker: ``progress()`` and ``check()`` as in the app,
    reported to and polled from the job board."""

    def __init__(self, job_id: str, board, time_limit_s: float):
        self.job_id = job_id
        self.time_limit_s = float(time_limit_s)
        self.started = time.monotonic()
        self.fraction = 0.0
        self.message = ""
        self._board = board
        self._last_write = 0.0
        self._last_poll = 0.0
        self._cancelled = False

    def _cancel_seen(self) -> bool:
        return self._cancelled

    def _poll_cancel(self) -> None:
        import ray

        self._cancelled = bool(ray.get(self._board.cancelled.remote(self.job_id), timeout=BOARD_CALL_TIMEOUT_S))

    def _write_progress(self, eta_s: float | None) -> None:  # the app computes the ETA from its own clock
        self._board.report.remote(self.job_id, self.fraction, self.message[:300])


class JobBoard:
    """The Ray actor jobs of one app process report to: placement, progress and cancel flags."""

    def __init__(self):
        self._jobs: dict[str, dict] = {}

    def started(self, job_id: str, placement: Placement) -> None:
        self._jobs.setdefault(job_id, {})["placement"] = placement

    def report(self, job_id: str, fraction: float, message: str) -> None:
        self._jobs.setdefault(job_id, {}).update(fraction=fraction, message=message)

    def cancel(self, job_id: str) -> None:
        self._jobs.setdefault(job_id, {})["cancel"] = True

    def cancelled(self, job_id: str) -> bool:
        return bool(self._jobs.get(job_id, {}).get("cancel"))

    def snapshot(self, job_id: str) -> dict:
        return dict(self._jobs.get(job_id, {}))

    def forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)


def _device_here() -> str:
    """The device a task on this worker computes on: the GPU Ray assigned it, else the CPU."""
    import ray

    if ray.get_gpu_ids():
        try:
            import torch

            if torch.cuda.is_available():
                return f"cuda:0 ({torch.cuda.get_device_name(0)})"
        except ImportError:
            pass
    return "cpu"


def placement_here() -> Placement:
    """This worker's node, device and process id."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    node = f"{socket.gethostname()} ({ray.util.get_node_ip_address()}, node {node_id[:12]})"
    return Placement(node=node, device=_device_here(), pid=os.getpid())


def _run_job_task(board, job_id: str, time_limit_s: float, compute, *args):
    """The Ray task of one job: say where it runs, then compute with a worker context."""
    import ray

    ray.get(board.started.remote(job_id, placement_here()), timeout=BOARD_CALL_TIMEOUT_S)
    return compute(WorkerContext(job_id, board, time_limit_s), *args)


def _run_item_task(compute, item, *shared):
    """The Ray task of one item of a fanned-out computation: ``compute(item, *shared)`` and where it ran."""
    return compute(item, *shared), placement_here()


class RayExecutor:
    """Runs jobs' remote work on the Ray cluster at ``address`` (connected on first use)."""

    def __init__(self, address: str):
        self.address = address
        self._lock = threading.Lock()
        self._board = None
        self._shared: dict[str, Any] = {}
        self._tasks: dict[tuple, Any] = {}

    def _ray(self):
        import ray

        with self._lock:
            if not ray.is_initialized():
                try:
                    ray.init(address=self.address, namespace=RAY_NAMESPACE, log_to_driver=False,
                             logging_level="WARNING", configure_logging=False)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise UserFacingError(f"cannot reach the Ray cluster at {self.address!r} (setting ray_address): "
                                          f"{str(exc).splitlines()[0][:300]}") from None
            if self._board is None:
                self._board = ray.remote(num_cpus=0, max_restarts=0)(JobBoard).remote()
        return ray

    def cluster_gpus(self) -> float:
        """GPUs the cluster offers in all (0 on a cluster of CPU nodes)."""
        return float(self._ray().cluster_resources().get("GPU", 0))

    def resource_for(self, work: RemoteWork) -> str:
        """'gpu' for accelerated work when the cluster has a GPU (the task then runs only on a GPU node), else 'cpu'."""
        return "gpu" if work.accelerated and self.cluster_gpus() > 0 else "cpu"

    def _task(self, function, resource: str):
        """``function`` as a Ray task needing one CPU, and one GPU for a 'gpu' job; never retried."""
        ray = self._ray()
        key = (function.__name__, resource)
        with self._lock:
            if key not in self._tasks:
                # A worker keeps its loaded model between tasks (max_calls=0), GPU tasks included.
                self._tasks[key] = ray.remote(num_cpus=1, num_gpus=1 if resource == "gpu" else 0, max_retries=0,
                                              max_calls=0)(function)
            return self._tasks[key]

    def share(self, key: str, make: Callable[[], Any]):
        """A value put in the cluster's object store once per executor (weights go to workers this way)."""
        ray = self._ray()
        with self._lock:
            if key not in self._shared:
                self._shared[key] = ray.put(make())
            return self._shared[key]

    def placement(self, job_id: str) -> Placement | None:
        """Where a running job's task runs, once it started."""
        ray = self._ray()
        return ray.get(self._board.snapshot.remote(job_id), timeout=BOARD_CALL_TIMEOUT_S).get("placement")

    def run(self, ctx, work: RemoteWork, resource: str) -> Any:
        """Run ``work`` for the job of ``ctx`` (the app's JobContext) as one Ray task and return its
        value; progress, cancel, the time limit and a dying worker are handled as in the app."""
        ray = self._ray()
        from ray import exceptions as ray_errors

        board, manager, job_id = self._board, ctx.manager, ctx.job_id
        task = self._task(_run_job_task, resource)
        manager.write_progress(job_id, 0.0, f"waiting for a Ray worker ({resource})", None)
        ref = task.remote(board, job_id, ctx.time_limit_s, work.compute, *work.args)
        stop_reason, stop_sent, killed, placed, last = None, 0.0, False, False, (None, None)
        try:
            while not ray.wait([ref], timeout=WAIT_INTERVAL_S)[0]:
                state = ray.get(board.snapshot.remote(job_id), timeout=BOARD_CALL_TIMEOUT_S)
                if not placed and state.get("placement"):
                    placed = True
                    where = state["placement"]
                    manager.record_placement(job_id, where.node, where.device)
                    if last[0] is None:
                        manager.write_progress(job_id, 0.0, f"started on Ray node {where.node} ({where.device})", None)
                progress = (state.get("fraction"), state.get("message"))
                if progress != last and progress[0] is not None:
                    last = progress
                    fraction = progress[0]
                    manager.write_progress(job_id, fraction, progress[1] or "", eta_seconds(ctx.elapsed_s, fraction))
                now = time.monotonic()
                if stop_reason is None:
                    if ctx.cancel_event.is_set() or manager.cancel_requested(job_id):
                        stop_reason = "cancelled"
                    elif ctx.elapsed_s > ctx.time_limit_s:
                        stop_reason = "timed out"
                    if stop_reason:
                        board.cancel.remote(job_id)
                        stop_sent = now
                elif not killed and now - stop_sent > CANCEL_GRACE_S:
                    killed = True
                    ray.cancel(ref, force=True)
            return ray.get(ref)
        except ray_errors.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, JobCancelled) and stop_reason == "timed out":  # the app stopped it at its limit
                raise JobTimedOut(f"the job ran past its time limit of {ctx.time_limit_s:.0f} s") from None
            if isinstance(cause, (JobCancelled, JobTimedOut, UserFacingError)):
                raise cause from None
            raise RuntimeError(f"on the Ray worker: {type(cause).__name__}: {cause}") from None
        except ray_errors.RayError as exc:
            if stop_reason == "cancelled":
                raise JobCancelled(f"job {job_id} was cancelled") from None
            if stop_reason == "timed out":
                raise JobTimedOut(f"the job ran past its time limit of {ctx.time_limit_s:.0f} s") from None
            raise UserFacingError(f"the Ray worker running this job died: {_first_line(exc)}") from None
        finally:
            board.forget.remote(job_id)

    def map(self, ctx, compute: Callable, items: Sequence, shared: tuple = (), resource: str = "cpu",
            on_done: Callable[[int, Any], None] | None = None) -> tuple[list, list[Placement]]:
        """``[compute(item, *shared) for item in items]``, one Ray task per item, in item order, with
        where each ran. ``ctx`` (the app's job context, or None) is checked while waiting: a cancel
        or time limit kills the outstanding tasks; ``on_done(index, value)`` follows each result."""
        ray = self._ray()
        from ray import exceptions as ray_errors

        task = self._task(_run_item_task, resource)
        refs = [task.remote(compute, item, *shared) for item in items]  # top-level: object refs resolve
        index_of = {ref: i for i, ref in enumerate(refs)}
        values, placements = [None] * len(refs), [None] * len(refs)
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=WAIT_INTERVAL_S)
                for ref in ready:
                    i = index_of[ref]
                    values[i], placements[i] = ray.get(ref)
                    if on_done is not None:
                        on_done(i, values[i])
                if ctx is not None:
                    ctx.check()
        except ray_errors.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, UserFacingError):
                raise cause from None
            raise RuntimeError(f"on the Ray worker: {type(cause).__name__}: {cause}") from None
        except ray_errors.RayError as exc:
            raise UserFacingError(f"a Ray worker of this job died: {_first_line(exc)}") from None
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
        return values, placements


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:500]


_executors: dict[str, RayExecutor] = {}
_executors_lock = threading.Lock()


def ray_executor(address: str) -> RayExecutor | None:
    """The process's executor for a Ray address (None for an empty address: jobs run in-process)."""
    if not address:
        return None
    with _executors_lock:
        if address not in _executors:
            _executors[address] = RayExecutor(address)
        return _executors[address]
