"""The whole governance picture of one pipeline version, computed in one place for the page,
the CLI and the audit pack."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial

from secmlops_core.catalog.loading import load_catalog
from secmlops_core.catalog.model import Catalog
from secmlops_core.evidence import Evidence, list_evidence
from secmlops_core.governance import compliance, gates, people, provenance, technology
from secmlops_core.governance.maturity import ComponentMaturity, maturity
from secmlops_core.pipeline.library import document_json, list_versions
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.store import Store
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import Assessment, assess

ACCOUNTABILITY_MIN_BAND = "high"
# Evidence about the live detector that is not attached to a pipeline (drift of its telemetry,
# attack-lab runs on it) counts for the pipeline linked to the live detector.
SHARED_KINDS = ("drift_snapshot", "attack_run", "robustness_evaluation", "incident")


def scoped_evidence(store: Store, pipeline_id: str, live: bool) -> list[Evidence]:
    """The pipeline's evidence, plus unattached live-detector evidence when linked; newest first."""
    own = list_evidence(store, pipeline_id=pipeline_id, limit=2000)
    if not live:
        return own
    shared = [e for kind in SHARED_KINDS for e in list_evidence(store, kind=kind, limit=500) if e.pipeline_id is None]
    return sorted(own + shared, key=lambda e: (e.created_at, e.evidence_id), reverse=True)


def scoped_incidents(store: Store, pipeline_id: str, live: bool) -> list:
    """Active monitoring incidents: all of them when linked to the live detector, else those linked to its threats."""
    from secmlops_core.monitoring.incidents import ACTIVE, list_incidents

    return [i for i in list_incidents(store, statuses=ACTIVE)
            if live or any((link or {}).get("pipeline_id") == pipeline_id for link in i.threat_links)]


@dataclass(frozen=True)
class Workspace:
    """People, technology, processes, governance and compliance, and provenance of one pipeline version."""

    pipeline: Pipeline
    version: int | None
    sha256: str
    assessment: Assessment
    profiles: dict[str, people.RoleProfile]
    raci: people.Raci
    gaps: tuple[people.Gap, ...]
    controls: dict[str, reg.ControlState]
    tools: tuple[technology.ToolStatus, ...]
    evidence: tuple[Evidence, ...]
    report: gates.GateReport
    coverage: dict[str, compliance.FrameworkCoverage]
    maturity: tuple[ComponentMaturity, ...]
    chain: provenance.ProvenanceChain
    live_detector: bool = True
    incidents: tuple = ()

    def blocking_gaps(self) -> list[people.Gap]:
        """Gaps (not warnings)."""
        return [g for g in self.gaps if g.severity == "gap"]


def version_of(store: Store, pipeline: Pipeline) -> tuple[int | None, str]:
    """The stored version number whose document is this pipeline (None when unsaved) and its SHA-256."""
    digest = hashlib.sha256(document_json(pipeline).encode("utf-8")).hexdigest()
    for version in list_versions(store, pipeline.id):
        if version.sha256 == digest:
            return version.version, digest
    return None, digest


def build(store: Store, pipeline: Pipeline, *, catalog: Catalog | None = None,
          served: list[provenance.Deployment] | None = None, gate_ids: list[str] | None = None) -> Workspace:
    """Compute the workspace from the store (register, controls, RACI, evidence) without writing."""
    catalog = catalog or load_catalog()
    version, digest = version_of(store, pipeline)
    entries, generation = reg.load_register(store, pipeline.id)
    states = reg.control_states(store, pipeline.id)
    assessment = assess(pipeline, catalog, entries, generation, states)
    profiles = people.role_profiles(store)
    raci = people.load_raci(store, pipeline.id)
    live = provenance.live_detector_linked(store, pipeline.id)
    evidence = scoped_evidence(store, pipeline.id, live)
    incidents = scoped_incidents(store, pipeline.id, live)
    gaps_for = partial(people.accountability_gaps, pipeline, raci, profiles, assessment.open_threats(), incidents)
    weights = technology.check_deployed_weights()
    chain = provenance.build_chain(store, evidence, weights, served)
    inputs = gates.GateInputs(
        pipeline=pipeline, pipeline_version=version, pipeline_sha256=digest, assessment=assessment,
        register_generation=generation,
        register_present=frozenset(tid for tid, e in entries.items() if e.present),
        gaps_for=lambda band: gaps_for(min_band=band), evidence=tuple(evidence), weights=weights,
        approvals=chain.approvals, incidents=tuple(incidents), live_detector=live)
    report = gates.evaluate_gates(inputs, gate_ids)
    statuses = {cid: state.status for cid, state in states.items()}
    coverages = compliance.coverage(store, statuses)
    phases = people.pipeline_phases(pipeline)
    staffed = sum(1 for p in phases if (role := raci.accountable("stage", p)) and profiles[role].people)
    return Workspace(pipeline, version, digest, assessment, profiles, raci,
                     tuple(gaps_for(min_band=ACCOUNTABILITY_MIN_BAND)), states,
                     tuple(technology.tool_status(store, pipeline, evidence)), tuple(evidence), report, coverages,
                     tuple(maturity(statuses, coverages, report, (staffed, len(phases)))), chain, live,
                     tuple(incidents))
