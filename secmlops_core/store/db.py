"""The DuckDB store: connections, locking across processes, and schema migrations.

DuckDB lets one process hold a database file at a time (even readers are refused while
another process has it open). The store therefore never keeps the file open between
units of work: ``Store.connect()`` opens it, runs the work, and closes it, retrying for a
short while when another process (the CLI, a second app instance) holds it. Telemetry,
which is written continuously by feed-runner processes, does not go through this file at
all: runners append Parquet segments that readers query (see ``secmlops_core.telemetry``).
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb

MIGRATIONS_PACKAGE = "secmlops_core.store.migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_MARKERS = ("could not set lock", "conflicting lock", "lock on file")


class StoreBusyError(RuntimeError):
    """Another process holds the store file for longer than the retry window."""


class Store:
    """Access to one DuckDB store file. Thread-safe; cheap to create."""

    def __init__(self, path: Path | str, busy_timeout_s: float = 10.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._migrated = False
        self._lock = threading.RLock()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the store for one unit of work; commits on success, rolls back on error."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._open_with_retry()
            try:
                if not self._migrated:
                    apply_migrations(conn)
                    self._migrated = True
                conn.execute("BEGIN TRANSACTION")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    def _open_with_retry(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                message = str(exc).lower()
                if not any(marker in message for marker in _LOCK_MARKERS):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"The store {self.path} is held by another process for more than "
                        f"{self.busy_timeout_s:.0f} s; try again, or stop the other process."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)


def migration_files() -> list[tuple[int, str, str]]:
    """All shipped migrations as (version, name, sql), ordered by version."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration versions in {MIGRATIONS_PACKAGE}")
    return sorted(found)


def apply_migrations(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded in ``schema_migrations``; returns their names."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def get_store(path: Path | str | None = None) -> Store:
    """The process-wide Store for ``path`` (default: the configured store file)."""
    if path is None:
        from secmlops_core.settings import get_settings

        path = get_settings().store_path
    key = Path(path).resolve()
    with _stores_lock:
        if key not in _stores:
            _stores[key] = Store(key)
        return _stores[key]
