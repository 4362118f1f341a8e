"""Persistence in DuckDB: see :mod:`secmlops_core.store.db`."""

from secmlops_core.store.db import Store, StoreBusyError, apply_migrations, get_store

__all__ = ["Store", "StoreBusyError", "apply_migrations", "get_store"]
