"""Threats + attack paths for a 1,000-stage / 3,000-flow pipeline, against OWASP pytm.

Ours: the catalog's rules applied to every stage and flow, inherent risk, suppression, and
the ranked attack paths (multi-source Dijkstra) — everything the Threats page needs.
Reference: OWASP pytm 1.4.0 (pinned in requirements-dev.txt) resolving its own threat
library against an equivalent model built from the same pipeline: one pytm Boundary per
trust zone, Actor / Process / Datastore per stage (by the kind's data-flow type) and one
Dataflow per flow, with the encryption/authentication flags carried over. pytm has no
attack-path analysis, so its figure is threat matching only. Both are timed in this run.

    .venv/bin/python tests/bench/bench_threats.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from secmlops_core.catalog.loading import load_catalog  # noqa: E402
from secmlops_core.catalog.vocabulary import stage_kinds  # noqa: E402
from tests.fixtures.synthetic_pipeline import synthetic_pipeline  # noqa: E402
from secmlops_core.threats.assessment import assess  # noqa: E402
from secmlops_core.threats.engine import generate_threats  # noqa: E402
from tests.bench.common import best_and_median, report  # noqa: E402

GOAL_SECONDS = 1.0


def pytm_model(pipeline):
    """Build the equivalent pytm model (fresh global state) and return the TM."""
    import pytm

    pytm.TM.reset()
    tm = pytm.TM(pipeline.name, description=pipeline.description or "synthetic benchmark pipeline")
    tm.isOrdered = False
    boundaries = {zone.id: pytm.Boundary(zone.name) for zone in pipeline.zones}
    kinds = stage_kinds()
    classes = {"actor": pytm.Actor, "process": pytm.Process, "store": pytm.Datastore}
    elements = {}
    for stage in pipeline.stages:
        element = classes[kinds[stage.kind].dfd](stage.name)
        if stage.zone:
            element.inBoundary = boundaries[stage.zone]
        elements[stage.id] = element
    for flow in pipeline.flows:
        dataflow = pytm.Dataflow(elements[flow.source], elements[flow.target], flow.name or flow.id)
        dataflow.isEncrypted = bool(flow.properties.get("encrypted"))
        dataflow.authenticatesDestination = bool(flow.properties.get("authenticated"))
    return tm


def pytm_resolve(pipeline) -> int:
    """Build and resolve the pytm model; returns the number of findings."""
    tm = pytm_model(pipeline)
    tm.check()
    tm.resolve()
    return len(tm.findings)


def main() -> None:
    pipeline = synthetic_pipeline(1000, 3000)
    catalog = load_catalog()
    print(f"pipeline: {len(pipeline.stages)} stages, {len(pipeline.flows)} flows, {len(pipeline.zones)} zones; "
          f"{len(catalog.rules)} rules")

    threats_only, _ = best_and_median(lambda: generate_threats(pipeline, catalog), repeats=5)
    full_best, full_median = best_and_median(lambda: assess(pipeline, catalog), repeats=5)
    assessment = assess(pipeline, catalog)
    report("ours: threats only (best of 5)", threats_only)
    report("ours: threats + risk + attack paths (best of 5)", full_best, GOAL_SECONDS)
    report("ours: threats + risk + attack paths (median of 5)", full_median, GOAL_SECONDS)
    print(f"  {len(assessment.threats)} threats, {len(assessment.paths)} ranked attack paths")

    try:
        import pytm  # noqa: F401
    except ImportError:
        print("pytm is not installed (pip install -r requirements-dev.txt); no reference figure")
        return
    start = time.perf_counter()
    findings = pytm_resolve(pipeline)
    pytm_seconds = time.perf_counter() - start
    report("OWASP pytm 1.4.0: build + check + resolve (one run)", pytm_seconds)
    print(f"  {findings} pytm findings")
    print(f"ratio pytm / ours (threats + paths): {pytm_seconds / full_best:.1f}x")


if __name__ == "__main__":
    main()
