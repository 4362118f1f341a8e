"""Store rows as typed records, matched by name instead of by position.

A :class:`RowMapper` is built once per table reader from a dataclass: its ``columns`` is the
SELECT list (one entry per dataclass field, in field order), and calling it on a fetched row
gives the dataclass, each value passed by field name. JSON text columns are decoded, and a
field may read a differently named column or an SQL expression::

    JOB_ROWS = row_mapper(JobRecord, json={"params": {}, "result": None})
    rows = conn.execute(f"SELECT {JOB_ROWS.columns} FROM jobs").fetchall()
    jobs = JOB_ROWS.all(rows)

Only constants from the code go into ``columns`` (field names and ``sql`` expressions),
never input.
"""

from __future__ import annotations

import copy
import dataclasses
import json as json_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RowMapper(Generic[T]):
    """Turns rows selected with :attr:`columns` into ``record`` instances."""

    record: type[T]
    fields: tuple[str, ...]
    expressions: tuple[str, ...]
    decoders: Mapping[str, Callable[[Any], Any]]

    @property
    def columns(self) -> str:
        """The SELECT list, one item per field in field order (also the INSERT column list when
        every field is a plain column)."""
        return ", ".join(self.expressions)

    @property
    def placeholders(self) -> str:
        """``?, ?, ...``: one parameter per field, for an INSERT of :attr:`columns`."""
        return ", ".join("?" for _ in self.fields)

    def __call__(self, row: Sequence) -> T:
        """The record of one row selected with :attr:`columns`."""
        values = dict(zip(self.fields, row, strict=True))
        for name, decode in self.decoders.items():
            values[name] = decode(values[name])
        return self.record(**values)

    def by_key(self, conn, table: str, key_column: str, key) -> T | None:
        """The record whose ``key_column`` equals ``key`` in ``table`` (both names are code
        constants, never input), or None."""
        row = conn.execute(f"SELECT {self.columns} FROM {table} WHERE {key_column} = ?", [key]).fetchone()
        return self(row) if row is not None else None

    def all(self, rows: Iterable[Sequence]) -> list[T]:
        """The records of many rows, in order."""
        return [self(row) for row in rows]


def json_column(empty: Any = None) -> Callable[[Any], Any]:
    """Decoder of a JSON text column; NULL or empty text reads as (a copy of) ``empty``."""
    def decode(value):
        return json_module.loads(value) if value else copy.deepcopy(empty)
    return decode


def row_mapper(record: type[T], *, json: Mapping[str, Any] | Iterable[str] = (),
               decode: Mapping[str, Callable[[Any], Any]] | None = None,
               sql: Mapping[str, str] | None = None, exclude: Iterable[str] = ()) -> RowMapper[T]:
    """A mapper for the dataclass ``record``.

    ``json``: the fields stored as JSON text, as names (NULL reads as None) or as a mapping of
    name to what NULL or empty text reads as. ``decode``: a function per field applied to the
    value (after the JSON decoding, for a JSON field). ``sql``: the column or SQL expression a
    field reads when it is not the column of the same name. ``exclude``: fields with defaults
    that the table does not hold.
    """
    excluded = set(exclude)
    fields = tuple(f.name for f in dataclasses.fields(record) if f.init and f.name not in excluded)
    sql = dict(sql or {})
    json_empty = dict(json) if isinstance(json, Mapping) else {name: None for name in json}
    unknown = (set(sql) | set(json_empty) | set(decode or {}) | excluded) - {f.name for f in dataclasses.fields(record)}
    if unknown:
        raise ValueError(f"{record.__name__} has no field(s) {', '.join(sorted(unknown))}")
    decoders: dict[str, Callable[[Any], Any]] = {}
    for name in fields:
        steps = []
        if name in json_empty:
            steps.append(json_column(json_empty[name]))
        if decode and name in decode:
            steps.append(decode[name])
        if len(steps) == 1:
            decoders[name] = steps[0]
        elif steps:
            decoders[name] = _chain(*steps)
    return RowMapper(record, fields, tuple(sql.get(name, name) for name in fields), decoders)


def _chain(*steps: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(value):
        for step in steps:
            value = step(value)
        return value
    return run
