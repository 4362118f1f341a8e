"""Persistence in DuckDB: see :mod:`secmlops_core.store.db`; rows as typed records: :mod:`secmlops_core.store.rows`."""

from secmlops_core.store.db import Store, StoreBusyError, apply_migrations, get_store
from secmlops_core.store.rows import RowMapper, json_column, row_mapper

__all__ = ["RowMapper", "Store", "StoreBusyError", "apply_migrations", "get_store", "json_column", "row_mapper"]
