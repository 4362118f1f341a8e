"""The whole governance picture of one pipeline version, computed in one place for the page,
the CLI and the audit pack."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial

from secmlops_core.catalog.rules import Catalog, load_catalog
from secmlops_core.evidence import Evidence, list_evidence
from secmlops_core.governance import compliance, gates, people, provenance, technology
from secmlops_core.governance.maturity import ComponentMaturity, maturity
from secmlops_core.pipeline.library import document_json, list_versions
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.store import Store
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import Assessment, assess

ACCOUNTABILITY_MIN_BAND = "high"


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
    evidence = list_evidence(store, pipeline_id=pipeline.id, limit=2000)
    incidents = [e for e in evidence if e.kind == "incident"]
    gaps_for = partial(people.accountability_gaps, pipeline, raci, profiles, assessment.open_threats(), incidents)
    weights = technology.check_deployed_weights()
    chain = provenance.build_chain(store, evidence, weights, served)
    inputs = gates.GateInputs(
        pipeline=pipeline, pipeline_version=version, pipeline_sha256=digest, assessment=assessment,
        register_generation=generation,
        register_present=frozenset(tid for tid, e in entries.items() if e.present),
        gaps_for=lambda band: gaps_for(min_band=band), evidence=tuple(evidence), weights=weights,
        approvals=chain.approvals)
    report = gates.evaluate_gates(inputs, gate_ids)
    statuses = {cid: state.status for cid, state in states.items()}
    coverages = compliance.coverage(store, statuses)
    phases = people.pipeline_phases(pipeline)
    staffed = sum(1 for p in phases if (role := raci.accountable("stage", p)) and profiles[role].people)
    return Workspace(pipeline, version, digest, assessment, profiles, raci,
                     tuple(gaps_for(min_band=ACCOUNTABILITY_MIN_BAND)), states,
                     tuple(technology.tool_status(store, pipeline, evidence)), tuple(evidence), report, coverages,
                     tuple(maturity(statuses, coverages, report, (staffed, len(phases)))), chain)
