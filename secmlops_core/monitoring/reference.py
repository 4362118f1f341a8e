"""Each camera's drift reference: the baseline window every drift comparison measures against.

An operator may pin one (kept in the store with who pinned it and when, audited). Otherwise
the reference is the camera's **first settled stretch of normal operation**: skip the first
``settle_minutes`` after the camera's first frame (and after any gap longer than
``max_gap_seconds``, a restarted runner), then take the first ``minutes`` in which every frame
is of scenario ``normal`` (a non-normal frame starts the stretch again). Once found it is
stored and never moves, so the baseline cannot slide along with a slow drift the way "the
half hour before" would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from secmlops_core.errors import UserFacingError
from secmlops_core.monitoring.windows import Window
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now

PINNED, SETTLED = "pinned", "settled"
SYSTEM_ACTOR = "alert rules"
PERMISSION = "operate_feeds"
MAX_NOTE_CHARS = 500
SEARCH_DAYS = 400


@dataclass(frozen=True)
class SettledSpec:
    """How the default reference is found (from the drift rule's ``reference`` params)."""

    settle_minutes: float = 1.0
    minutes: float = 10.0
    scenario: str = "normal"
    max_gap_seconds: float = 120.0

    @classmethod
    def from_params(cls, params: dict | None) -> "SettledSpec":
        params = params or {}
        return cls(float(params.get("settle_minutes", cls.settle_minutes)), float(params.get("minutes", cls.minutes)),
                   str(params.get("scenario", cls.scenario)),
                   float(params.get("max_gap_seconds", cls.max_gap_seconds)))

    def describe(self) -> str:
        return (f"the first {self.minutes:g} minutes of scenario '{self.scenario}', at least "
                f"{self.settle_minutes:g} minute(s) after the camera's runner started")


@dataclass(frozen=True)
class DriftReference:
    """A camera's reference window and where it came from."""

    camera_id: str
    kind: str  # "pinned" (by an operator) or "settled" (found by the alert rules)
    reference_start: datetime
    reference_end: datetime
    set_by: str
    set_at: datetime
    note: str

    @property
    def window(self) -> Window:
        return Window(self.reference_start, self.reference_end)

    @property
    def origin(self) -> str:
        """One readable line: who chose this window and when."""
        if self.kind == PINNED:
            return f"pinned by {self.set_by} at {self.set_at:%Y-%m-%d %H:%M} UTC"
        return f"first settled stretch of normal operation, found at {self.set_at:%Y-%m-%d %H:%M} UTC"


_ROWS = row_mapper(DriftReference)


def _read(conn, camera_id: str, kind: str) -> DriftReference | None:
    row = conn.execute(f"SELECT {_ROWS.columns} FROM drift_references WHERE camera_id = ? AND kind = ?",
                       [camera_id, kind]).fetchone()
    return _ROWS(row) if row else None


def stored_references(store: Store, camera_id: str) -> dict[str, DriftReference]:
    """The camera's stored references by kind (``pinned``, ``settled``)."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_ROWS.columns} FROM drift_references WHERE camera_id = ?",
                            [camera_id]).fetchall()
    return {r.kind: r for r in _ROWS.all(rows)}


def list_references(store: Store) -> list[DriftReference]:
    """Every stored reference, by camera then kind."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_ROWS.columns} FROM drift_references ORDER BY camera_id, kind").fetchall()
    return _ROWS.all(rows)


def get_reference(store: Store, camera_id: str) -> DriftReference | None:
    """The reference in force for a camera: the pinned one, else the stored settled one, else None."""
    found = stored_references(store, camera_id)
    return found.get(PINNED) or found.get(SETTLED)


def _audit_after(ref: DriftReference) -> dict:
    return {"kind": ref.kind, "start": ref.reference_start.isoformat(), "end": ref.reference_end.isoformat(),
            "by": ref.set_by, "note": ref.note}


def _write(conn, ref: DriftReference, action: str, actor: str) -> None:
    from secmlops_core.access import audit

    before = _read(conn, ref.camera_id, ref.kind)
    conn.execute(f"INSERT OR REPLACE INTO drift_references ({_ROWS.columns}) VALUES ({_ROWS.placeholders})",
                 [ref.camera_id, ref.kind, ref.reference_start, ref.reference_end, ref.set_by, ref.set_at, ref.note])
    audit.record(conn, action, f"camera:{ref.camera_id}", _audit_after(before) if before else None, _audit_after(ref),
                 actor=actor)


def pin_reference(store: Store, camera_id: str, window: Window, note: str = "", *, min_rows: int = 30,
                  telemetry_dir: Path | None = None, now: datetime | None = None) -> DriftReference:
    """Pin ``window`` as the camera's drift reference (needs ``operate_feeds``; audited).

    The window must hold at least ``min_rows`` frames of that camera, so that a drift test can use it.
    """
    from secmlops_core.access.policy import require

    principal = require(PERMISSION)
    camera_id = (camera_id or "").strip()
    if not camera_id:
        raise UserFacingError("name the camera whose reference to pin")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise UserFacingError(f"the note is limited to {MAX_NOTE_CHARS} characters")
    activity = query.camera_activity(window.start, window.end, telemetry_dir=telemetry_dir)
    frames = activity.loc[activity["camera_id"] == camera_id, "frames"]
    count = int(frames.iloc[0]) if len(frames) else 0
    if count < min_rows:
        raise UserFacingError(f"camera {camera_id!r} has {count} frame(s) in {window.label()}; a reference needs at "
                              f"least {min_rows}: choose a window in which the camera ran")
    ref = DriftReference(camera_id, PINNED, window.start, window.end, principal.label, now or utc_now(), note)
    with store.connect() as conn:
        _write(conn, ref, "drift.reference.pin", principal.label)
    return ref


def clear_reference(store: Store, camera_id: str) -> DriftReference | None:
    """Remove the camera's pinned reference (needs ``operate_feeds``; audited); returns what was removed.

    The settled default applies again from the next comparison.
    """
    from secmlops_core.access import audit
    from secmlops_core.access.policy import require

    principal = require(PERMISSION)
    with store.connect() as conn:
        before = _read(conn, camera_id, PINNED)
        if before is None:
            return None
        conn.execute("DELETE FROM drift_references WHERE camera_id = ? AND kind = ?", [camera_id, PINNED])
        audit.record(conn, "drift.reference.clear", f"camera:{camera_id}", _audit_after(before), None,
                     actor=principal.label)
    return before


def find_settled(camera_id: str, spec: SettledSpec, *, now: datetime | None = None,
                 telemetry_dir: Path | None = None) -> Window | None:
    """The camera's first settled stretch of normal operation in the telemetry, or None if there is none yet."""
    now = now or utc_now()
    activity = query.camera_activity(now - timedelta(days=SEARCH_DAYS), now, telemetry_dir=telemetry_dir)
    first = activity.loc[activity["camera_id"] == camera_id, "first_ts"]
    if not len(first):
        return None
    start = first.iloc[0].to_pydatetime()
    rows = query.events_frame(start, now, camera_id, columns=["ts", "scenario"], telemetry_dir=telemetry_dir)
    settle, length = timedelta(minutes=spec.settle_minutes), timedelta(minutes=spec.minutes)
    gap = timedelta(seconds=spec.max_gap_seconds)
    settled_from, stretch, previous = None, None, None
    for ts, scenario in zip(rows["ts"].tolist(), rows["scenario"].tolist()):
        if previous is None or ts - previous > gap:
            settled_from, stretch = ts + settle, None  # a (re)started runner settles first
        previous = ts
        if scenario != spec.scenario:
            stretch = None
            continue
        if ts < settled_from:
            continue
        stretch = stretch or ts
        if ts - stretch >= length:
            return Window(stretch, stretch + length)
    return None


def effective_reference(store: Store, camera_id: str, spec: SettledSpec, *, now: datetime | None = None,
                        telemetry_dir: Path | None = None) -> DriftReference | None:
    """The reference in force; when none is stored, look for the settled one and store it once found."""
    current = get_reference(store, camera_id)
    if current is not None:
        return current
    window = find_settled(camera_id, spec, now=now, telemetry_dir=telemetry_dir)
    if window is None:
        return None
    ref = DriftReference(camera_id, SETTLED, window.start, window.end, SYSTEM_ACTOR, now or utc_now(),
                         f"Found as {spec.describe()}.")
    with store.connect() as conn:
        if _read(conn, camera_id, SETTLED) is None:
            _write(conn, ref, "drift.reference.settled", SYSTEM_ACTOR)
    return get_reference(store, camera_id)
