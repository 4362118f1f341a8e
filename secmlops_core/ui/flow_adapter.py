"""Adapter between the pipeline model and the streamlit-flow graph editor.

The editor renders node content as Markdown (raw HTML enabled), so every piece of user
text is escaped here (``secmlops_core.ui.text.escape_markdown``) before it reaches the browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from secmlops_core.errors import UserFacingError
from secmlops_core.pipeline.editing import PipelineEditor
from secmlops_core.pipeline.model import Pipeline, kind_label
from secmlops_core.ui.text import escape_markdown

TRUST_COLOURS = {"high": "#0f3b36", "medium": "#3a3214", "low": "#4a1d22", None: "#252a35"}
TRUST_BORDERS = {"high": "#2dd4bf", "medium": "#facc15", "low": "#f87171", None: "#94a3b8"}
BOUNDARY_EDGE_COLOUR = "#f97316"


def node_content(name: str, kind: str) -> str:
    """The Markdown shown inside a stage box."""
    return f"**{escape_markdown(name)}**  \n{escape_markdown(kind_label(kind))}"


def to_flow_state(pipeline: Pipeline, selected_id: str | None = None,
                  highlight: dict[str, str] | None = None) -> StreamlitFlowState:
    """Editor state for a pipeline; ``highlight`` maps stage ids to border colours (risk view)."""
    zones = pipeline.zone_index()
    nodes = []
    for index, stage in enumerate(pipeline.stages):
        trust = zones[stage.zone].trust if stage.zone in zones else None
        border = (highlight or {}).get(stage.id, TRUST_BORDERS[trust])
        position = stage.position or ((index % 8) * 260.0, (index // 8) * 140.0)
        nodes.append(StreamlitFlowNode(
            id=stage.id, pos=position, data={"content": node_content(stage.name, stage.kind)},
            node_type="default", source_position="right", target_position="left",
            selectable=True, connectable=True, draggable=True, deletable=False,
            selected=stage.id == selected_id,
            style={"background": TRUST_COLOURS[trust], "color": "#f1f5f9", "border": f"2px solid {border}",
                   "borderRadius": "8px", "width": "190px", "fontSize": "13px"}))
    stages = pipeline.stage_index()
    edges = []
    for flow in pipeline.flows:
        crossing = stages[flow.source].zone != stages[flow.target].zone
        colour = BOUNDARY_EDGE_COLOUR if crossing else "#94a3b8"
        edges.append(StreamlitFlowEdge(
            id=flow.id, source=flow.source, target=flow.target, edge_type="default",
            label=(flow.name or "")[:60], label_show_bg=False, animated=crossing, deletable=True,
            marker_end={"type": "arrowclosed", "color": colour},
            style={"stroke": colour, "strokeWidth": 2 if crossing else 1.5},
            label_style={"fill": "#e2e8f0", "fontSize": "11px"}))
    return StreamlitFlowState(nodes=nodes, edges=edges, selected_id=selected_id,
                              timestamp=int(time.time() * 1000))


@dataclass
class EditorChanges:
    """What the browser changed, as applied to the editor."""

    moved: bool = False
    added_flows: list[str] = field(default_factory=list)
    removed_flows: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def structural(self) -> bool:
        """True when flows were added or removed (the view must be rebuilt)."""
        return bool(self.added_flows or self.removed_flows or self.errors)


def apply_flow_state(editor: PipelineEditor, state: StreamlitFlowState) -> EditorChanges:
    """Apply positions and connections made in the browser to the editor."""
    changes = EditorChanges()
    positions = {node.id: (float(node.position["x"]), float(node.position["y"])) for node in state.nodes}
    changes.moved = editor.move(positions)
    known = {(f.source, f.target): f.id for f in editor.pipeline.flows}
    flow_ids = {f.id for f in editor.pipeline.flows}
    seen_ids = set()
    for edge in state.edges:
        seen_ids.add(edge.id)
        if edge.id in flow_ids:
            continue
        if edge.source == edge.target:
            changes.errors.append("A flow cannot start and end at the same stage.")
            continue
        if (edge.source, edge.target) in known:
            # A connection drawn again, or a new edge whose renamed id the browser has not seen yet.
            seen_ids.add(known[(edge.source, edge.target)])
            continue
        try:
            flow = editor.add_flow(edge.source, edge.target)
        except UserFacingError as exc:  # an invalid flow: the edit is dropped and the reason shown
            changes.errors.append("; ".join(getattr(exc, "problems", None) or [str(exc)]))
            continue
        changes.added_flows.append(flow.id)
        known[(edge.source, edge.target)] = flow.id
        seen_ids.add(flow.id)
    for flow_id in sorted(flow_ids - seen_ids):
        editor.remove_flow(flow_id)
        changes.removed_flows.append(flow_id)
    return changes
