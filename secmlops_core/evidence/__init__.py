"""Evidence the product produces about itself, attachable to threats.

Kinds are data in ``EVIDENCE_KINDS``; outcomes say whether the evidence shows a weakness
(``fail``), a control working (``pass``) or is informational (``info``). Attack-lab runs,
robustness evaluations, drift snapshots, incidents and gate results all land here, so the
threat register, incidents and governance gates read one place.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from secmlops_core.errors import UserFacingError
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

EVIDENCE_KINDS = {
    "attack_run": "An attack-lab run against the detector",
    "robustness_evaluation": "A robustness evaluation (trade-off table) over an image set",
    "drift_snapshot": "A drift comparison between two telemetry windows",
    "incident": "An operational incident",
    "gate_result": "A lifecycle security gate evaluation",
    "provenance": "A hash or approval record in the provenance chain",
}
OUTCOMES = ("pass", "fail", "info")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence."""

    evidence_id: str
    kind: str
    source_ref: str
    summary: str
    pipeline_id: str | None
    threat_id: str | None
    outcome: str
    metrics: dict = field(default_factory=dict)
    created_by: str = "system"
    created_at: datetime | None = None


_EVIDENCE_ROWS = row_mapper(Evidence, json={"metrics": {}})


def add_evidence(store: Store, kind: str, source_ref: str, summary: str, *, pipeline_id: str | None = None,
                 threat_id: str | None = None, outcome: str = "info", metrics: dict | None = None,
                 created_by: str = "system") -> Evidence:
    """Record evidence; ``source_ref`` points at what produced it (a run id, an incident id)."""
    if kind not in EVIDENCE_KINDS:
        raise UserFacingError(f"unknown evidence kind {kind!r}; known: {', '.join(EVIDENCE_KINDS)}")
    if outcome not in OUTCOMES:
        raise UserFacingError(f"evidence outcome must be one of {', '.join(OUTCOMES)}")
    evidence_id = uuid.uuid4().hex[:16]
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO evidence (evidence_id, kind, source_ref, summary, pipeline_id, threat_id, outcome, "
            "metrics, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [evidence_id, kind, source_ref, summary[:2000], pipeline_id, threat_id, outcome,
             json.dumps(metrics or {}, default=str), created_by])
        created_at = conn.execute("SELECT created_at FROM evidence WHERE evidence_id = ?", [evidence_id]).fetchone()[0]
    return Evidence(evidence_id, kind, source_ref, summary[:2000], pipeline_id, threat_id, outcome,
                    dict(metrics or {}), created_by, created_at)


def list_evidence(store: Store, *, pipeline_id: str | None = None, threat_id: str | None = None,
                  kind: str | None = None, source_ref: str | None = None, limit: int = 500) -> list[Evidence]:
    """Evidence filtered by pipeline, threat, kind and what produced it, newest first."""
    clauses, params = [], []
    for column, value in (("pipeline_id", pipeline_id), ("threat_id", threat_id), ("kind", kind),
                          ("source_ref", source_ref)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with store.connect() as conn:
        rows = conn.execute(
            f"SELECT {_EVIDENCE_ROWS.columns} FROM evidence {where} ORDER BY created_at DESC, evidence_id LIMIT ?",
            [*params, int(limit)]).fetchall()
    return _EVIDENCE_ROWS.all(rows)
