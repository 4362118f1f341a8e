"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def best_and_median(work: Callable[[], object], repeats: int = 7, warmup: int = 1) -> tuple[float, float]:
    """(best, median) wall time in seconds of ``work`` over ``repeats`` runs after a warm-up."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def report(name: str, seconds: float, goal: float | None = None, unit: str = "s") -> None:
    """Print one figure, with its goal when there is one."""
    verdict = "" if goal is None else (f"  (goal <= {goal} {unit}: {'met' if seconds <= goal else 'NOT met'})")
    print(f"{name:<64} {seconds:9.4f} {unit}{verdict}")
