"""Where a job ran: the Ray node and device in its record, the ray_address setting, and the
embedded default that never imports ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from secmlops_core.jobs import JobManager
from secmlops_core.settings import SettingsError, load_settings


def test_a_job_record_keeps_the_node_and_device_that_ran_it(store):
    manager = JobManager(store, cpu_slots=1)
    job = manager.run_inline("evaluation", lambda ctx: {"ok": True}, title="in-process")
    assert job.status == "succeeded" and job.node is None and job.device is None
    manager.record_placement(job.job_id, "gpu-box (10.0.0.6, node 0123456789ab)", "cuda:0 (NVIDIA H200)")
    again = manager.get(job.job_id)
    assert (again.node, again.device) == ("gpu-box (10.0.0.6, node 0123456789ab)", "cuda:0 (NVIDIA H200)")


@pytest.mark.parametrize("address", ["auto", "10.0.0.5:6379", "ray://head.example:10001"])
def test_ray_address_accepts_cluster_addresses(tmp_path, address):
    assert load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_RAY_ADDRESS": address}).ray_address == address


@pytest.mark.parametrize("address", ["http://head:8265", "head", "10.0.0.5:6379; rm -rf /"])
def test_ray_address_refuses_anything_else(tmp_path, address):
    with pytest.raises(SettingsError, match="ray_address"):
        load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_RAY_ADDRESS": address})


def test_without_an_address_jobs_and_attacks_never_import_ray(tmp_path):
    code = ("import sys; from secmlops_core.jobs import get_job_manager; import secmlops_core.attacks.runs; "
            "import secmlops_core.attacks.evaluation; manager = get_job_manager(); "
            "print(manager.executor, 'ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"SECMLOPS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.stdout.split() == ["None", "False"], done.stderr[-1000:]
