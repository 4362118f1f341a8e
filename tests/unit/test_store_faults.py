"""A process killed with SIGKILL in the middle of writes leaves a store that opens and is whole."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from secmlops_core.access import audit
from secmlops_core.pipeline import library
from secmlops_core.store import Store
from tests.conftest import REPO_ROOT


def test_kill_minus_nine_mid_write_keeps_store_and_audit_chain_intact(tmp_path):
    path = tmp_path / "store.duckdb"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from secmlops_core.pipeline import library
        from secmlops_core.access.policy import LOCAL_OPERATOR, set_principal
        from secmlops_core.store import Store
        set_principal(LOCAL_OPERATOR)
        store = Store({str(path)!r})
        pipeline = library.load_template("pds")
        print("ready", flush=True)
        n = 0
        while True:
            n += 1
            pipeline.name = f"PDS edit {{n}}"
            library.save_version(store, pipeline, f"edit {{n}}")
            print(n, flush=True)
    """)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env={**os.environ, "SECMLOPS_HOME": str(tmp_path)})
    assert writer.stdout.readline().strip() == "ready"
    committed = 0
    while committed < 3:  # a few versions committed, then kill it mid-stream
        line = writer.stdout.readline()
        assert line, "the writer died before it was killed"
        committed = int(line)
    time.sleep(0.3)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)

    store = Store(path)
    versions = library.list_versions(store, "pds")
    assert len(versions) >= 2, "the writer made progress before it was killed"
    assert [v.version for v in versions] == list(range(len(versions), 0, -1)), "no gaps, no half-written version"
    latest = library.latest(store, "pds")
    assert latest.name == f"PDS edit {len(versions)}"
    check = audit.verify_chain(store)
    assert check.ok, check.problem
    assert check.entries == len(versions), "every committed version has exactly one audit entry"
    # The store keeps working after the crash.
    library.save_version(store, latest, "after the crash")
    assert library.list_versions(store, "pds")[0].label == "after the crash"
