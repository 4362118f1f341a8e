"""End-to-end fixtures: the real app under `streamlit run`, driven by Debian's Chromium.

The server is started once per session on a free port with its own SECMLOPS_HOME, after
the manner of Streamlit's own e2e suite: poll /_stcore/health, then wait in the browser
for the app to be connected and idle before asserting.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """The app's data directory for the whole e2e session."""
    home = tmp_path_factory.mktemp("e2e") / "home"
    home.mkdir()
    return home


@pytest.fixture(scope="session")
def app_url(app_home):
    """Base URL of the running app."""
    process, url = start_streamlit(app_home)
    yield url
    stop_process(process)


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
