"""Deterministic layered auto-layout for pipeline graphs (left to right)."""

from __future__ import annotations

import networkx as nx

from secmlops_core.pipeline.model import Pipeline

LAYER_SPACING = 260.0
NODE_SPACING = 110.0


def layered_positions(pipeline: Pipeline) -> dict[str, tuple[float, float]]:
    """Positions by stage id: layers follow the flow direction, cycles broken at back edges.

    Each stage goes one layer right of its furthest predecessor (longest path); within a
    layer stages are ordered by the mean row of their predecessors, which keeps crossings low.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(stage.id for stage in pipeline.stages)
    graph.add_edges_from((flow.source, flow.target) for flow in pipeline.flows)
    acyclic = _break_cycles(graph)
    layer: dict[str, int] = {}
    for node in nx.topological_sort(acyclic):
        layer[node] = max((layer[p] + 1 for p in acyclic.predecessors(node)), default=0)

    by_layer: dict[int, list[str]] = {}
    order = {stage.id: index for index, stage in enumerate(pipeline.stages)}
    for node, depth in layer.items():
        by_layer.setdefault(depth, []).append(node)
    row: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for depth in sorted(by_layer):
        nodes = by_layer[depth]

        def barycenter(node: str) -> tuple[float, int]:
            rows = [row[p] for p in acyclic.predecessors(node) if p in row]
            return (sum(rows) / len(rows) if rows else float(order[node]), order[node])

        nodes.sort(key=barycenter)
        offset = (len(nodes) - 1) / 2
        for index, node in enumerate(nodes):
            row[node] = index - offset
            positions[node] = (depth * LAYER_SPACING, (index - offset) * NODE_SPACING)
    return positions


def _break_cycles(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy without the back edges found by a depth-first search (iterative)."""
    acyclic = graph.copy()
    state: dict[str, int] = {}
    for root in graph.nodes:
        if root in state:
            continue
        stack = [(root, iter(graph.successors(root)))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                acyclic.remove_edge(node, child)
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(graph.successors(child))))
    return acyclic


def apply_layout(pipeline: Pipeline) -> Pipeline:
    """Set every stage's position from :func:`layered_positions` (in place; returns it)."""
    positions = layered_positions(pipeline)
    for stage in pipeline.stages:
        stage.position = positions[stage.id]
    return pipeline
