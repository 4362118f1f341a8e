"""Load + validate + layout of a 1,000-stage / 3,000-flow pipeline, against networkx alone.

Reference: the same JSON file read with the json module into a networkx DiGraph with its
attributes, laid out with networkx's own multipartite layout over topological generations:
the raw libraries doing the same work, without validation.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from secmlops_core.pipeline.formats import dumps_pipeline, load_pipeline  # noqa: E402
from secmlops_core.pipeline.layout import apply_layout  # noqa: E402
from tests.fixtures.synthetic_pipeline import synthetic_pipeline  # noqa: E402
from tests.bench.common import best_and_median, report  # noqa: E402


def networkx_reference(path: Path) -> nx.DiGraph:
    document = json.loads(path.read_text(encoding="utf-8"))
    graph = nx.DiGraph()
    graph.add_nodes_from((s["id"], s) for s in document["stages"])
    graph.add_edges_from((f["source"], f["target"], f) for f in document["flows"])
    for layer, nodes in enumerate(nx.topological_generations(graph)):
        for node in nodes:
            graph.nodes[node]["layer"] = layer
    nx.multipartite_layout(graph, subset_key="layer")
    return graph


def main() -> None:
    pipeline = synthetic_pipeline(1000, 3000)
    with tempfile.TemporaryDirectory() as tmp:
        json_path, yaml_path = Path(tmp) / "big.json", Path(tmp) / "big.yaml"
        json_path.write_text(dumps_pipeline(pipeline, "json"), encoding="utf-8")
        yaml_path.write_text(dumps_pipeline(pipeline, "yaml"), encoding="utf-8")
        ours_json, _ = best_and_median(lambda: apply_layout(load_pipeline(json_path, max_bytes=50_000_000)))
        ours_yaml, _ = best_and_median(lambda: apply_layout(load_pipeline(yaml_path, max_bytes=50_000_000)), 3)
        reference, _ = best_and_median(lambda: networkx_reference(json_path))
    print("Pipeline load + validate + layout, 1,000 stages / 3,000 flows (best of runs)")
    report("secmlops (JSON file)", ours_json, goal=0.5)
    report("secmlops (YAML file)", ours_yaml, goal=0.5)
    report("networkx alone (JSON -> DiGraph -> multipartite layout)", reference)
    print(f"{'ratio secmlops JSON / networkx alone':<64} {ours_json / reference:9.2f} x")


if __name__ == "__main__":
    main()
