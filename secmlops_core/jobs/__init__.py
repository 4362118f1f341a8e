"""Background jobs: a persisted queue with progress, ETA, cancel and time limits.

Any long task (an attack run, patch training, a fine-tune, a drift report) is a function
``fn(ctx: JobContext) -> dict`` submitted to the process-wide :class:`JobManager`:

- at most one GPU job runs at a time; CPU jobs run in parallel up to ``cpu_slots``
  (default: half the cores, at least one, since each torch job already uses several threads);
- ``ctx.progress(fraction, message)`` records progress (throttled) and derives an ETA;
  ``ctx.check()`` raises :class:`JobCancelled` or :class:`JobTimedOut` at a safe point;
- every job is a row in the store's ``jobs`` table from submission to its end, so a page
  reload or another process sees it; a job whose owning process died is marked failed the
  next time a manager starts (:meth:`JobManager.recover_interrupted`);
- with ``ray_address`` set, a job submitted with ``remote=`` work (a
  :class:`~secmlops_core.jobs.ray_executor.RemoteWork`) runs it as a Ray task under the same
  contract, and its record keeps the node and device (:mod:`secmlops_core.jobs.ray_executor`).
"""

from secmlops_core.jobs.manager import (
    FINISHED,
    JobCancelled,
    JobContext,
    JobManager,
    JobRecord,
    JobTimedOut,
    get_job_manager,
)

__all__ = ["FINISHED", "JobCancelled", "JobContext", "JobManager", "JobRecord", "JobTimedOut", "get_job_manager"]
