import subprocess
import sys
import textwrap

import duckdb
import pytest

from secmlops_core.store import Store, StoreBusyError, apply_migrations
from secmlops_core.store.db import migration_files


def test_migrations_are_applied_once(tmp_path):
    path = tmp_path / "s.duckdb"
    conn = duckdb.connect(str(path))
    first = apply_migrations(conn)
    assert first == [name for _, name, _ in migration_files()]
    assert apply_migrations(conn) == []
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert versions == sorted(v for v, _, _ in migration_files())
    conn.close()


def test_failed_unit_of_work_rolls_back(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    with pytest.raises(RuntimeError):
        with store.connect() as conn:
            conn.execute("INSERT INTO pipelines (pipeline_id, name) VALUES ('a', 'A')")
            raise RuntimeError("boom")
    with store.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pipelines").fetchone()[0] == 0


def test_other_process_waits_for_the_lock_then_proceeds(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path)  # nothing opened yet
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time, sys
        conn = duckdb.connect({str(path)!r})
        print("held", flush=True)
        time.sleep(1.5)
        conn.close()
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    store = Store(path, busy_timeout_s=20)
    with store.connect() as conn:  # waits for the other process to let go
        assert conn.execute("SELECT count(*) FROM pipelines").fetchone()[0] == 0
    holder.wait(timeout=10)


def test_busy_store_gives_a_clear_error(tmp_path):
    path = tmp_path / "s.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        conn = duckdb.connect({str(path)!r})
        print("held", flush=True)
        time.sleep(5)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusyError, match="held by another process"):
            with Store(path, busy_timeout_s=0.5).connect():
                pass
    finally:
        holder.kill()
        holder.wait()
