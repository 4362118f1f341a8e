"""Validated edits of a pipeline with undo: what the designer page calls.

Every operation works on a copy, validates the result exactly as a file would be
validated, and only then replaces the current pipeline and records an undo step.
"""

from __future__ import annotations

import copy
import re

from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.formats import to_document
from secmlops_core.pipeline.layout import apply_layout
from secmlops_core.pipeline.model import Flow, Pipeline, Stage, Zone
from secmlops_core.pipeline.validate import parse_pipeline

HISTORY_LIMIT = 50


def unique_id(text: str, taken: set[str], fallback: str = "item") -> str:
    """A valid id derived from ``text`` that is not in ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "_", (text or "").lower()).strip("_")[:56] or fallback
    if not base[0].isalnum():
        base = f"{fallback}_{base}"
    candidate, counter = base, 2
    while candidate in taken:
        candidate = f"{base}_{counter}"
        counter += 1
    return candidate


class PipelineEditor:
    """One editing session over a pipeline."""

    def __init__(self, pipeline: Pipeline, history_limit: int = HISTORY_LIMIT):
        self.pipeline = pipeline
        self.history_limit = history_limit
        self._undo: list[dict] = []
        self.revision = 0  # bumps on every change; the graph view re-renders on it

    @property
    def can_undo(self) -> bool:
        """True when there is a change to undo."""
        return bool(self._undo)

    def _commit(self, candidate: Pipeline, validate: bool = True) -> None:
        if validate:
            candidate = parse_pipeline(to_document(candidate))
        self._undo.append(to_document(self.pipeline))
        del self._undo[:-self.history_limit]
        self.pipeline = candidate
        self.revision += 1

    def _copy(self) -> Pipeline:
        return copy.deepcopy(self.pipeline)

    def undo(self) -> bool:
        """Restore the state before the last change; False when there is none."""
        if not self._undo:
            return False
        self.pipeline = parse_pipeline(self._undo.pop())
        self.revision += 1
        return True

    def replace(self, pipeline: Pipeline) -> None:
        """Swap in another pipeline (an import or a stored version) as an undoable change."""
        self._commit(copy.deepcopy(pipeline))

    def add_stage(self, kind: str, name: str, zone: str | None = None,
                  position: tuple[float, float] | None = None, properties: dict | None = None) -> Stage:
        """Add a stage; its id is derived from the name."""
        candidate = self._copy()
        taken = {s.id for s in candidate.stages}
        if position is None:
            xs = [s.position[0] for s in candidate.stages if s.position]
            ys = [s.position[1] for s in candidate.stages if s.position]
            position = (max(xs, default=0.0) + 260.0, min(ys, default=0.0) - 160.0)
        stage = Stage(id=unique_id(name, taken, "stage"), name=name.strip(), kind=kind, zone=zone or None,
                      properties=dict(properties or {}), position=position)
        candidate.stages.append(stage)
        self._commit(candidate)
        return self.pipeline.stage(stage.id)

    def update_stage(self, stage_id: str, **changes) -> None:
        """Change fields of a stage (name, kind, zone, properties, description)."""
        allowed = {"name", "kind", "zone", "properties", "description"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValidationFailed([f"cannot change {', '.join(sorted(unknown))} of a stage"], "edit")
        candidate = self._copy()
        stage = candidate.stage(stage_id)
        for key, value in changes.items():
            setattr(stage, key, value if key != "zone" else (value or None))
        self._commit(candidate)

    def remove_stage(self, stage_id: str) -> int:
        """Delete a stage and every flow touching it; returns how many flows went with it."""
        candidate = self._copy()
        candidate.stage(stage_id)
        candidate.stages = [s for s in candidate.stages if s.id != stage_id]
        before = len(candidate.flows)
        candidate.flows = [f for f in candidate.flows if stage_id not in (f.source, f.target)]
        self._commit(candidate)
        return before - len(candidate.flows)

    def add_flow(self, source: str, target: str, name: str = "", properties: dict | None = None) -> Flow:
        """Connect two stages."""
        candidate = self._copy()
        flow = Flow(id=unique_id(f"{source}_to_{target}", {f.id for f in candidate.flows}, "flow"),
                    source=source, target=target, name=name, properties=dict(properties or {}))
        candidate.flows.append(flow)
        self._commit(candidate)
        return flow

    def update_flow(self, flow_id: str, **changes) -> None:
        """Change fields of a flow (name, properties, description)."""
        allowed = {"name", "properties", "description"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValidationFailed([f"cannot change {', '.join(sorted(unknown))} of a flow"], "edit")
        candidate = self._copy()
        flow = next((f for f in candidate.flows if f.id == flow_id), None)
        if flow is None:
            raise ValidationFailed([f"flow '{flow_id}' does not exist"], "edit")
        for key, value in changes.items():
            setattr(flow, key, value)
        self._commit(candidate)

    def remove_flow(self, flow_id: str) -> None:
        """Delete a flow."""
        candidate = self._copy()
        if not any(f.id == flow_id for f in candidate.flows):
            raise ValidationFailed([f"flow '{flow_id}' does not exist"], "edit")
        candidate.flows = [f for f in candidate.flows if f.id != flow_id]
        self._commit(candidate)

    def set_zones(self, zones: list[Zone]) -> None:
        """Replace the zone list; stages in a removed zone become unzoned."""
        candidate = self._copy()
        candidate.zones = list(zones)
        kept = {z.id for z in zones}
        for stage in candidate.stages:
            if stage.zone not in kept:
                stage.zone = None
        self._commit(candidate)

    def move(self, positions: dict[str, tuple[float, float]]) -> bool:
        """Record dragged positions; False when nothing moved."""
        moved = {sid: pos for sid, pos in positions.items()
                 if sid in self.pipeline.stage_index() and self.pipeline.stage(sid).position != pos}
        if not moved:
            return False
        candidate = self._copy()
        for stage in candidate.stages:
            if stage.id in moved:
                stage.position = (float(moved[stage.id][0]), float(moved[stage.id][1]))
        self._commit(candidate, validate=False)
        return True

    def auto_layout(self) -> None:
        """Lay the graph out in layers along the flow direction."""
        self._commit(apply_layout(self._copy()), validate=False)
