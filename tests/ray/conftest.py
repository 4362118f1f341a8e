"""A real local Ray cluster for the Ray tests: one head started for the session in a process
group of its own (2 CPUs, a bounded object store, no dashboard, a short temp dir for its unix
sockets), stopped by that group in a finalizer even when a test fails. The tests skip, saying
why, only when ray cannot be imported."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

OBJECT_STORE_BYTES = 200 * 1024 * 1024
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop_group(process: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
            # workers of the group may outlive the head by a moment
            time.sleep(0.5)
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def start_local_head(num_cpus: int, temp_dir: str) -> tuple[subprocess.Popen, str]:
    """``ray start --head --block`` in its own process group; returns (process, address) once it listens."""
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    env = {**os.environ, "YOLO_OFFLINE": "true", "SECMLOPS_HOME": str(Path(temp_dir) / "home"),
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("SECMLOPS_RAY_ADDRESS", None)
    process = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--port", str(port), "--num-cpus", str(num_cpus),
         "--num-gpus", "0", "--include-dashboard=false", "--disable-usage-stats",
         "--object-store-memory", str(OBJECT_STORE_BYTES), "--temp-dir", temp_dir],
        start_new_session=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    _stop_group(process)
    raise RuntimeError(f"the Ray head did not listen on port {port} within {START_TIMEOUT_S} s")


@pytest.fixture(scope="session")
def ray_address(request):
    """The address of a local Ray head with 2 CPUs for this test session (the driver connects to it)."""
    ray = pytest.importorskip("ray", reason="ray is not importable (pip install -r requirements.txt)")
    temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")
    process, address = start_local_head(2, temp_dir)

    def stop():
        if ray.is_initialized():
            ray.shutdown()
        _stop_group(process)
        shutil.rmtree(temp_dir, ignore_errors=True)

    request.addfinalizer(stop)
    return address


@pytest.fixture()
def ray_manager(store, ray_address):
    """A job manager on the test's store whose jobs with remote work run on the local cluster."""
    from secmlops_core.jobs import JobManager
    from secmlops_core.jobs.ray_executor import ray_executor

    return JobManager(store, executor=ray_executor(ray_address))
