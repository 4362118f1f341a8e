"""A load session: many browser sessions across every page plus several camera feeds.

Used by the load benchmark (`tests/bench/bench_load.py`, 20 sessions + 4 feeds for 10
minutes) and, shortened, by the end-to-end suite. It counts pages that show an exception
or fail to settle, and samples the app server's resident memory over the run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, start_streamlit, stop_process
from tests.e2e.helpers import wait_for_app_idle
from tests.e2e.test_pages import listed_pages


@dataclass
class LoadResult:
    """What a load session measured."""

    sessions: int
    feeds: int
    duration_s: float
    page_loads: int = 0
    errors: list[str] = field(default_factory=list)
    load_times_s: list[float] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)

    @property
    def memory_growth_mb(self) -> float:
        """Server RSS at the end minus after the first full round of page loads."""
        if len(self.rss_mb) < 2:
            return 0.0
        warm = self.rss_mb[min(len(self.rss_mb) - 1, max(1, len(self.rss_mb) // 5))][1]
        return self.rss_mb[-1][1] - warm

    @property
    def p95_load_s(self) -> float:
        """95th percentile of page settle times."""
        if not self.load_times_s:
            return 0.0
        return statistics.quantiles(self.load_times_s, n=20)[-1] if len(self.load_times_s) > 1 else self.load_times_s[0]


def _tree_rss_mb(process: psutil.Process) -> float:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1e6


def run_load(home: Path, sessions: int, feeds: int, duration_s: float, feed_fps: float = 0.5,
             dwell_s: float = 4.0, browser=None) -> LoadResult:
    """Run the load session and return what it measured (in ``browser`` when given)."""
    from playwright.sync_api import sync_playwright

    if browser is None:
        with sync_playwright() as playwright:
            own = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                return run_load(home, sessions, feeds, duration_s, feed_fps, dwell_s, own)
            finally:
                own.close()

    home.mkdir(parents=True, exist_ok=True)
    result = LoadResult(sessions, feeds, duration_s)
    env = {**os.environ, "SECMLOPS_HOME": str(home), "YOLO_OFFLINE": "true"}
    feed_processes = [subprocess.Popen(
        [sys.executable, "-m", "secmlops_core", "feed", "--source", "sample", "--camera-id", f"load-cam-{i + 1}",
         "--fps", str(feed_fps), "--duration", str(int(duration_s + 120))],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) for i in range(feeds)]
    server, url = start_streamlit(home)
    server_process = psutil.Process(server.pid)
    paths = listed_pages()
    contexts = []
    try:
        contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(sessions)]
        pages = [context.new_page() for context in contexts]
        start = time.monotonic()
        round_index = 0
        while time.monotonic() - start < duration_s:
            for index, page in enumerate(pages):
                path = paths[(index + round_index) % len(paths)]
                began = time.monotonic()
                try:
                    page.goto(f"{url}/{path}", timeout=120_000)
                    wait_for_app_idle(page, timeout_ms=120_000)
                    if page.locator("[data-testid='stException']").count():
                        result.errors.append(f"exception on /{path}")
                except Exception as exc:  # a page that never settles is a failure to count, not to crash on
                    result.errors.append(f"/{path}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                result.load_times_s.append(time.monotonic() - began)
                result.page_loads += 1
            result.rss_mb.append((time.monotonic() - start, _tree_rss_mb(server_process)))
            round_index += 1
            time.sleep(dwell_s)
    finally:
        for context in contexts:
            context.close()
        stop_process(server)
        for process in feed_processes:
            stop_process(process)
    for process in feed_processes:
        if process.returncode not in (0, -15, None):
            result.errors.append(f"feed exited with {process.returncode}")
    return result
