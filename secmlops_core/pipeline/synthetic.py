"""Generated pipelines of a chosen size, for load tests and benchmarks (seeded, reproducible)."""

from __future__ import annotations

import random

from secmlops_core.catalog.vocabulary import property_specs, stage_kinds
from secmlops_core.pipeline.model import TRUST_LEVELS, Flow, Pipeline, Stage, Zone


def synthetic_pipeline(n_stages: int = 1000, n_flows: int = 3000, n_zones: int = 5, seed: int = 7) -> Pipeline:
    """A random acyclic pipeline with every stage kind, zones, and random boolean properties."""
    rng = random.Random(seed)
    kinds = list(stage_kinds())
    stage_bools = [n for n, s in property_specs()["stage"].items() if s.type == "bool"]
    flow_bools = [n for n, s in property_specs()["flow"].items() if s.type == "bool"]
    data_kinds = property_specs()["flow"]["data_kind"].values
    zones = [Zone(id=f"zone_{i}", name=f"Zone {i}", trust=TRUST_LEVELS[i % 3]) for i in range(n_zones)]
    stages = [Stage(id=f"s{i}", name=f"Stage {i}", kind=kinds[i % len(kinds)], zone=zones[i % n_zones].id,
                    properties={name: True for name in rng.sample(stage_bools, 3)})
              for i in range(n_stages)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < min(n_flows, n_stages * (n_stages - 1) // 2):
        a, b = sorted(rng.sample(range(n_stages), 2))
        pairs.add((a, b))
    flows = [Flow(id=f"f{index}", source=f"s{a}", target=f"s{b}", name=f"flow {index}",
                  properties={rng.choice(flow_bools): True, "data_kind": rng.choice(data_kinds)})
             for index, (a, b) in enumerate(sorted(pairs))]
    return Pipeline(id=f"synthetic_{n_stages}", name=f"Synthetic {n_stages}-stage pipeline",
                    zones=zones, stages=stages, flows=flows)
