"""Attack paths from entry points to crown jewels, and the blast radius of a stage.

An attacker is assumed to move *with* the flows (what they inject travels downstream).
Each step (a flow and the stage it reaches) carries the highest risk score of the open
threats on that flow or stage (0..25); a step costs ``26 - risk``, so Dijkstra finds the
path an attacker would find cheapest: few steps, each weak. A path's ``score`` is the mean
step risk, its band that of the rounded mean.

Search is bounded: one multi-source Dijkstra gives the cheapest path to every crown jewel
from any entry point; when ``entry points x stages`` is small enough (default 200,000) one
Dijkstra per entry point adds the cheapest path for each (entry, crown jewel) pair too.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from secmlops_core.catalog.vocabulary import stage_kinds
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.threats.risk import band_for

MAX_STEP_RISK = 25
PAIR_SEARCH_BUDGET = 200_000


@dataclass(frozen=True)
class AttackPath:
    """A ranked route from an entry point to a crown jewel."""

    entry: str
    asset: str
    asset_kind: str
    stages: tuple[str, ...]
    flows: tuple[str, ...]
    step_risks: tuple[int, ...]

    @property
    def score(self) -> float:
        """Mean risk of the steps (0..25)."""
        return round(sum(self.step_risks) / len(self.step_risks), 2) if self.step_risks else 0.0

    @property
    def band(self) -> str:
        """Band of the rounded mean step risk ("low" for a risk-free path)."""
        return band_for(max(1, round(self.score)))


@dataclass(frozen=True)
class BlastRadius:
    """What a compromised stage can reach downstream."""

    stage: str
    reachable: tuple[str, ...]
    assets: tuple[str, ...]
    threats_in_reach: int


def entry_points(pipeline: Pipeline) -> list[str]:
    """Stages an attacker can start from: entry-point kinds, internet-facing or third-party stages."""
    kinds = stage_kinds()
    found = []
    for stage in pipeline.stages:
        kind = kinds.get(stage.kind)
        if (kind and kind.entry_point) or stage.properties.get("internet_facing") or stage.properties.get("third_party"):
            found.append(stage.id)
    return found


def crown_jewels(pipeline: Pipeline) -> dict[str, str]:
    """Stages whose kind is a crown-jewel asset, mapped to the asset type."""
    kinds = stage_kinds()
    return {stage.id: kinds[stage.kind].asset for stage in pipeline.stages
            if stage.kind in kinds and kinds[stage.kind].asset}


def _risk_by_element(element_scores) -> dict[tuple[str, str], int]:
    """Highest score per (element type, element id)."""
    risk: dict[tuple[str, str], int] = {}
    for element_type, element_id, score in element_scores:
        key = (element_type, element_id)
        if score > risk.get(key, 0):
            risk[key] = score
    return risk


def attack_graph(pipeline: Pipeline, element_scores) -> nx.DiGraph:
    """The stage graph with per-edge ``risk``/``cost`` and the riskiest flow kept for parallel flows.

    ``element_scores`` yields (element type, element id, score) for every open threat.
    """
    risk = _risk_by_element(element_scores)
    graph = nx.DiGraph()
    graph.add_nodes_from(stage.id for stage in pipeline.stages)
    for flow in pipeline.flows:
        step = max(risk.get(("flow", flow.id), 0), risk.get(("stage", flow.target), 0))
        current = graph.get_edge_data(flow.source, flow.target)
        if current is None or step > current["risk"] or (step == current["risk"] and flow.id < current["flow"]):
            graph.add_edge(flow.source, flow.target, flow=flow.id, risk=step, cost=MAX_STEP_RISK + 1 - step)
    return graph


def _path(graph: nx.DiGraph, nodes: list[str], asset_kind: str) -> AttackPath:
    edges = [graph.edges[a, b] for a, b in zip(nodes, nodes[1:])]
    return AttackPath(entry=nodes[0], asset=nodes[-1], asset_kind=asset_kind, stages=tuple(nodes),
                      flows=tuple(e["flow"] for e in edges), step_risks=tuple(e["risk"] for e in edges))


def attack_paths(pipeline: Pipeline, element_scores, limit: int = 25,
                 pair_budget: int = PAIR_SEARCH_BUDGET) -> list[AttackPath]:
    """The riskiest entry-to-crown-jewel paths, best first (at most ``limit``)."""
    graph = attack_graph(pipeline, element_scores)
    entries = entry_points(pipeline)
    assets = crown_jewels(pipeline)
    if not entries or not assets:
        return []
    found: dict[tuple[str, str], AttackPath] = {}
    _, best = nx.multi_source_dijkstra(graph, set(entries), weight="cost")
    for asset, kind in assets.items():
        nodes = best.get(asset)
        if nodes and len(nodes) > 1:
            found[(nodes[0], asset)] = _path(graph, nodes, kind)
    if len(entries) * graph.number_of_nodes() <= pair_budget:
        for entry in entries:
            _, paths = nx.single_source_dijkstra(graph, entry, weight="cost")
            for asset, kind in assets.items():
                nodes = paths.get(asset)
                if nodes and len(nodes) > 1 and (entry, asset) not in found:
                    found[(entry, asset)] = _path(graph, nodes, kind)
    ranked = sorted(found.values(), key=lambda p: (-p.score, len(p.stages), p.entry, p.asset))
    return ranked[:limit]


def blast_radius(pipeline: Pipeline, stage_id: str, element_scores=()) -> BlastRadius:
    """Stages and crown jewels downstream of ``stage_id`` and how many open threats sit there."""
    graph = nx.DiGraph()
    graph.add_nodes_from(stage.id for stage in pipeline.stages)
    graph.add_edges_from((flow.source, flow.target) for flow in pipeline.flows)
    if stage_id not in graph:
        raise KeyError(stage_id)
    reachable = nx.descendants(graph, stage_id)
    assets = crown_jewels(pipeline)
    order = {stage.id: index for index, stage in enumerate(pipeline.stages)}
    inside = reachable | {stage_id}
    flows_in_reach = {flow.id for flow in pipeline.flows if flow.source in inside and flow.target in reachable}
    in_reach = sum(1 for element_type, element_id, _ in element_scores
                   if (element_type == "stage" and element_id in reachable)
                   or (element_type == "flow" and element_id in flows_in_reach))
    return BlastRadius(stage=stage_id, reachable=tuple(sorted(reachable, key=order.__getitem__)),
                       assets=tuple(sorted((s for s in reachable if s in assets), key=order.__getitem__)),
                       threats_in_reach=in_reach)
