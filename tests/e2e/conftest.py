"""End-to-end fixtures: the real app under `streamlit run`, driven by Debian's Chromium.

The server is started once per session on a free port with its own SECMLOPS_HOME, after
the manner of Streamlit's own e2e suite: poll /_stcore/health, then wait in the browser
for the app to be connected and idle before asserting.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(home: Path, extra_env: dict | None = None, timeout_s: float = 90.0,
                    launcher: str = "secmlops_core.ui.launch"):
    """Start `streamlit run app.py` headless through the app's launcher (as `secmlops serve`
    does; pass launcher="streamlit" for plain Streamlit); returns (process, base_url)."""
    port = _free_port()
    env = {**os.environ, "SECMLOPS_HOME": str(home), "SECMLOPS_SAMPLE_FEED": "false",
           "YOLO_OFFLINE": "true", **(extra_env or {})}
    log = open(home.parent / f"streamlit-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", launcher, "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--client.showErrorDetails", "full", "--browser.gatherUsageStats", "false"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log.name}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"streamlit did not become healthy within {timeout_s} s; see {log.name}")


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a child process, killing it if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def sample_feed(home: Path, camera_id: str, duration_s: int) -> Iterator[subprocess.Popen]:
    """A real sample-camera runner writing into home; yields once its first frame is on disk."""
    env = {**os.environ, "SECMLOPS_HOME": str(home), "YOLO_OFFLINE": "true"}
    with open(home.parent / f"runner-{camera_id}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "secmlops_core", "feed", "--source", "sample",
                                 "--camera-id", camera_id, "--fps", "2", "--duration", str(duration_s)],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            feed_dir = home / "feeds" / camera_id
            deadline = time.monotonic() + 60
            while not _serving(feed_dir, proc.pid):  # the runner loads torch and the model first
                assert proc.poll() is None, f"runner exited early; see {log.name}"
                assert time.monotonic() < deadline, "runner produced no frame within 60 s"
                time.sleep(0.5)
            yield proc
        finally:
            stop_process(proc)


def _serving(feed_dir: Path, pid: int) -> bool:
    """This very runner (not an earlier one on the same camera) is up and has published a frame."""
    try:
        status = json.loads((feed_dir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return status.get("pid") == pid and status.get("state") == "up" and (feed_dir / "latest.jpg").exists()


def new_home(tmp_path_factory, prefix: str) -> Path:
    """A fresh, empty app data directory."""
    home = tmp_path_factory.mktemp(prefix) / "home"
    home.mkdir()
    return home


@contextmanager
def running_app(home: Path, extra_env: dict | None = None) -> Iterator[str]:
    """The app under `streamlit run` on ``home`` for the block; yields its base URL."""
    process, url = start_streamlit(home, extra_env)
    try:
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """The app's data directory for the whole e2e session."""
    return new_home(tmp_path_factory, "e2e")


@pytest.fixture(scope="session")
def app_url(app_home):
    """Base URL of the running app."""
    with running_app(app_home) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser):
    """A fresh browser context and page for one test."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
