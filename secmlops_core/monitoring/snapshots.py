"""Drift snapshots in the store (with their windows), each also recorded as evidence."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from secmlops_core.evidence import add_evidence
from secmlops_core.monitoring.drift import DriftResult
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper


@dataclass(frozen=True)
class DriftSnapshot:
    """A stored drift comparison (``result`` is :meth:`DriftResult.as_dict`)."""

    snapshot_id: str
    camera_id: str | None
    reference_start: datetime
    reference_end: datetime
    current_start: datetime
    current_end: datetime
    reference_rows: int
    current_rows: int
    mode: str
    drift_share: float
    dataset_drift: bool
    result: dict
    trigger: str
    created_at: datetime


_SNAPSHOT_ROWS = row_mapper(DriftSnapshot, json=("result",))


def save_snapshot(store: Store, result: DriftResult, trigger: str = "manual", evidence: bool = True) -> str:
    """Store a drift result; returns its snapshot id. Also adds a ``drift_snapshot`` evidence record."""
    snapshot_id = uuid.uuid4().hex[:16]
    with store.connect() as conn:
        conn.execute(f"INSERT INTO drift_snapshots ({_SNAPSHOT_ROWS.columns}) VALUES ({_SNAPSHOT_ROWS.placeholders})",
                     [snapshot_id, result.camera, result.reference.start, result.reference.end, result.current.start,
                      result.current.end, result.reference_rows, result.current_rows, result.mode,
                      result.drift_share, result.dataset_drift, json.dumps(result.as_dict()), trigger,
                      result.computed_at])
    if evidence:
        where = f"camera {result.camera}" if result.camera else "all cameras"
        drifted = ", ".join(result.drifted_columns) or "none"
        add_evidence(store, "drift_snapshot", f"drift:{snapshot_id}",
                     f"Drift on {where}: {len(result.drifted_columns)}/{len(result.columns)} columns drifted "
                     f"({drifted}); current {result.current.label()} vs reference {result.reference.label()}",
                     outcome="fail" if result.dataset_drift else "pass",
                     metrics={"drift_share": round(result.drift_share, 4), "dataset_drift": result.dataset_drift,
                              "drifted_columns": result.drifted_columns, "snapshot_id": snapshot_id})
    return snapshot_id


def list_snapshots(store: Store, camera: str | None = None, since: datetime | None = None,
                   limit: int = 500) -> list[DriftSnapshot]:
    """Stored snapshots, newest first (``camera=None`` returns every camera and the overall ones)."""
    clauses, params = [], []
    if camera is not None:
        clauses.append("camera_id IS NOT DISTINCT FROM ?")
        params.append(camera or None)
    if since is not None:
        clauses.append("current_end >= ?")
        params.append(since)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_SNAPSHOT_ROWS.columns} FROM drift_snapshots {where} ORDER BY current_end DESC, "
                            f"created_at DESC LIMIT ?", [*params, int(limit)]).fetchall()
    return _SNAPSHOT_ROWS.all(rows)



def snapshot_timeline(snapshots: list[DriftSnapshot]) -> pd.DataFrame:
    """Long table (time, camera, column, score, threshold, test, drifted, ratio) for timeline and heat map."""
    rows = []
    for snap in snapshots:
        for col in snap.result.get("columns", []):
            rows.append({"time": snap.current_end, "camera": snap.camera_id or "all", "column": col["column"],
                         "score": col["score"], "threshold": col["threshold"], "test": col["test"],
                         "drifted": col["drifted"], "ratio": drift_ratio(col["test"], col["score"], col["threshold"])})
    return pd.DataFrame(rows, columns=["time", "camera", "column", "score", "threshold", "test", "drifted", "ratio"])


def drift_ratio(test: str, score: float, threshold: float, cap: float = 5.0) -> float:
    """How far past its threshold a score is, >= 1 meaning drift for every test (p-values are inverted)."""
    if "p_value" in test:
        return min(cap, threshold / max(score, 1e-12))
    return min(cap, score / threshold) if threshold else 0.0
