"""The history of governance changes: one row per change, written in the same transaction
as the change and its audit-trail entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from secmlops_core.access import audit
from secmlops_core.access.policy import Principal, require
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

AREAS = ("role", "raci", "control", "mapping", "provenance", "gates")


@dataclass(frozen=True)
class Change:
    """One recorded governance change."""

    change_id: int
    pipeline_id: str | None
    area: str
    subject: str
    before: object
    after: object
    changed_by: str
    changed_at: datetime


_CHANGE_ROWS = row_mapper(Change, json=("before", "after"))


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def record_change(conn, principal: Principal, pipeline_id: str | None, area: str, subject: str,
                  before, after) -> None:
    """Append to the governance history and the audit trail inside the caller's transaction."""
    conn.execute("INSERT INTO governance_history (pipeline_id, area, subject, before, after, changed_by)"
                 " VALUES (?, ?, ?, ?, ?, ?)", [pipeline_id, area, subject, _json(before), _json(after),
                                                principal.label])
    where = f"{pipeline_id}:{subject}" if pipeline_id else subject
    audit.record(conn, f"governance.{area}", where, before, after, actor=principal.label)


def editor(pipeline_id: str | None = None) -> Principal:
    """The acting principal, refused unless it may edit governance (of this pipeline)."""
    return require("edit_governance", pipeline_id)


def list_changes(store: Store, pipeline_id: str | None = None, area: str | None = None,
                 limit: int = 200) -> list[Change]:
    """Changes newest first; with a pipeline id, that pipeline's changes and global ones."""
    clauses, params = [], []
    if pipeline_id is not None:
        clauses.append("(pipeline_id = ? OR pipeline_id IS NULL)")
        params.append(pipeline_id)
    if area is not None:
        clauses.append("area = ?")
        params.append(area)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_CHANGE_ROWS.columns} FROM governance_history {where} ORDER BY change_id DESC "
                            "LIMIT ?", [*params, int(limit)]).fetchall()
    return _CHANGE_ROWS.all(rows)
