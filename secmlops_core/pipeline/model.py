"""The typed pipeline graph: trust zones, stages and flows.

A flow crosses a trust boundary when its two ends sit in different zones; that is derived
from the stages' zones, never typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from secmlops_core.catalog.vocabulary import property_specs, stage_kinds

FORMAT_NAME = "secmlops-pipeline"
FORMAT_VERSION = 1
TRUST_LEVELS = ("low", "medium", "high")


@dataclass
class Zone:
    """A trust zone: stages inside it trust each other to the same degree."""

    id: str
    name: str
    trust: str = "medium"
    description: str = ""


@dataclass
class Stage:
    """One stage of the pipeline (a node of the graph)."""

    id: str
    name: str
    kind: str
    zone: str | None = None
    properties: dict = field(default_factory=dict)
    description: str = ""
    position: tuple[float, float] | None = None


@dataclass
class Flow:
    """A directed flow of data, models or control between two stages."""

    id: str
    source: str
    target: str
    name: str = ""
    properties: dict = field(default_factory=dict)
    description: str = ""


@dataclass
class Pipeline:
    """A whole pipeline: what the designer edits, the engine analyses and the store versions."""

    id: str
    name: str
    description: str = ""
    zones: list[Zone] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)

    def stage(self, stage_id: str) -> Stage:
        """The stage with this id (KeyError when absent)."""
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def stage_index(self) -> dict[str, Stage]:
        """Stages by id."""
        return {stage.id: stage for stage in self.stages}

    def zone_index(self) -> dict[str, Zone]:
        """Zones by id."""
        return {zone.id: zone for zone in self.zones}

    def crosses_boundary(self, flow: Flow, stages: dict[str, Stage] | None = None) -> bool:
        """True when the flow's ends are in different trust zones."""
        stages = stages or self.stage_index()
        return stages[flow.source].zone != stages[flow.target].zone

    def to_networkx(self) -> nx.DiGraph:
        """The graph with stage/flow objects attached (``stage`` on nodes, ``flow`` on edges).

        Parallel flows between the same two stages are kept as a list under ``flows``.
        """
        graph = nx.DiGraph(pipeline_id=self.id)
        for stage in self.stages:
            graph.add_node(stage.id, stage=stage, kind=stage.kind, zone=stage.zone)
        for flow in self.flows:
            if graph.has_edge(flow.source, flow.target):
                graph.edges[flow.source, flow.target]["flows"].append(flow)
            else:
                graph.add_edge(flow.source, flow.target, flow=flow, flows=[flow])
        return graph


def effective_property(element: Stage | Flow, name: str):
    """A property's value on a stage or flow, falling back to the catalog default."""
    if name in element.properties:
        return element.properties[name]
    applies_to = "stage" if isinstance(element, Stage) else "flow"
    spec = property_specs()[applies_to].get(name)
    if spec is None:
        raise KeyError(f"unknown {applies_to} property {name!r}")
    return spec.default


def kind_label(kind: str) -> str:
    """Human label of a stage kind (the id itself when unknown)."""
    known = stage_kinds().get(kind)
    return known.label if known else kind
