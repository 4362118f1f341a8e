"""The typed row mapper: SELECT lists from dataclass fields, rows to records by name."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pytest

from secmlops_core.store.rows import row_mapper


@dataclass(frozen=True)
class Thing:
    thing_id: str
    params: dict
    result: dict | None
    tags: tuple
    label: str = ""
    extra: list = field(default_factory=list)


def _conn():
    conn = duckdb.connect(":memory:")
    conn.execute("CREATE TABLE things (thing_id VARCHAR, params VARCHAR, result VARCHAR, tags VARCHAR, name VARCHAR)")
    conn.execute("INSERT INTO things VALUES ('a', '{\"x\": 1}', NULL, '[\"p\", \"q\"]', 'A'), "
                 "('b', NULL, '{\"ok\": true}', '[]', 'B')")
    return conn


def test_columns_follow_the_fields_and_rows_become_records_by_name():
    rows_of = row_mapper(Thing, json={"params": {}, "result": None, "tags": None}, decode={"tags": tuple},
                         sql={"label": "name"}, exclude=("extra",))
    assert rows_of.columns == "thing_id, params, result, tags, name"
    assert rows_of.placeholders == "?, ?, ?, ?, ?"
    rows = _conn().execute(f"SELECT {rows_of.columns} FROM things ORDER BY thing_id").fetchall()
    first, second = rows_of.all(rows)
    assert first == Thing("a", {"x": 1}, None, ("p", "q"), "A")
    assert second == Thing("b", {}, {"ok": True}, (), "B")
    assert rows_of(rows[1]).params is not rows_of(rows[1]).params  # NULL reads as a fresh copy of the default


def test_json_names_read_null_as_none_and_mistakes_are_refused():
    rows_of = row_mapper(Thing, json=("params", "result"), exclude=("label", "extra"))
    assert rows_of(("c", None, "", "t")) == Thing("c", None, None, "t")
    with pytest.raises(ValueError, match="no field"):
        row_mapper(Thing, json=("paramz",))
    with pytest.raises(ValueError):  # a row that does not have one value per field
        rows_of(("c", None, None))


def test_by_key_finds_one_record_or_none(store):
    from secmlops_core.jobs.manager import JobManager

    manager = JobManager(store)
    job_id = manager.submit("test", lambda ctx: {"ok": 1}, title="by key")
    manager.wait(job_id, 30)
    assert manager.get(job_id).result == {"ok": 1}
    assert manager.get("no-such-job") is None
