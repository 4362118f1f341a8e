"""One typed result for pages, reports and the CLI: threats + register decisions + residual
risk + attack paths for one pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from secmlops_core.access.policy import can
from secmlops_core.catalog.loading import load_catalog
from secmlops_core.catalog.model import Catalog
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.store import Store
from secmlops_core.threats import register as reg
from secmlops_core.threats.engine import Threat, ThreatSet, generate_threats
from secmlops_core.threats.paths import AttackPath, attack_paths
from secmlops_core.threats.risk import BANDS, Risk, band_at_least, residual

CLOSED_FOR_PATHS = ("mitigated", "false_positive")


@dataclass(frozen=True)
class AssessedThreat:
    """A threat with its register decision and residual risk."""

    threat: Threat
    status: str = "open"
    justification: str = ""
    owner_role: str = ""
    ticket: str = ""
    due_date: date | None = None
    is_new: bool = False
    implemented_controls: tuple[str, ...] = ()
    residual: Risk | None = None

    @property
    def id(self) -> str:
        """The threat id."""
        return self.threat.id

    @property
    def is_open(self) -> bool:
        """True while the threat still needs treatment (open or in progress)."""
        return self.status in reg.OPEN_STATUSES

    @property
    def residual_risk(self) -> Risk:
        """Risk after implemented controls (the inherent risk when none)."""
        return self.residual or self.threat.risk


@dataclass(frozen=True)
class Assessment:
    """Everything known about the threats of one pipeline at one moment."""

    pipeline: Pipeline
    catalog: Catalog
    threats: tuple[AssessedThreat, ...]
    suppressed: tuple[Threat, ...]
    vanished: tuple[reg.RegisterEntry, ...]
    paths: tuple[AttackPath, ...]
    control_status: dict = field(default_factory=dict)
    generation: int = 0
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def open_threats(self) -> list[AssessedThreat]:
        """Threats still open or in progress."""
        return [t for t in self.threats if t.is_open]

    def band_counts(self, residual_risk: bool = True, open_only: bool = True) -> dict[str, int]:
        """Number of threats per band (all bands present, low to critical)."""
        counts = dict.fromkeys(BANDS, 0)
        for item in self.threats:
            if open_only and not item.is_open:
                continue
            risk = item.residual_risk if residual_risk else item.threat.risk
            counts[risk.band] += 1
        return counts

    def heatmap(self, residual_risk: bool = True, open_only: bool = True) -> list[list[int]]:
        """Threat counts on the 5x5 matrix: rows likelihood 5..1, columns impact 1..5."""
        grid = [[0] * 5 for _ in range(5)]
        for item in self.threats:
            if open_only and not item.is_open:
                continue
            risk = item.residual_risk if residual_risk else item.threat.risk
            grid[5 - risk.likelihood][risk.impact - 1] += 1
        return grid

    def worst_band_by_stage(self) -> dict[str, str]:
        """Worst open residual band per stage (threats on flows count for both ends); 'none' when clean."""
        worst: dict[str, int] = {}
        for item in self.open_threats():
            rank = BANDS.index(item.residual_risk.band)
            for stage_id in item.threat.stage_ids:
                worst[stage_id] = max(worst.get(stage_id, -1), rank)
        return {stage.id: BANDS[worst[stage.id]] if stage.id in worst else "none" for stage in self.pipeline.stages}

    def open_counts_by_stage(self) -> dict[str, int]:
        """Open threats touching each stage (a flow's threat counts for both of its ends)."""
        counts = dict.fromkeys((stage.id for stage in self.pipeline.stages), 0)
        for item in self.open_threats():
            for stage_id in item.threat.stage_ids:
                counts[stage_id] = counts.get(stage_id, 0) + 1
        return counts

    def filtered(self, chosen: ThreatFilter) -> list[AssessedThreat]:
        """The threats that the filter lets through (an empty criterion lets everything through)."""
        return [item for item in self.threats if chosen.matches(item)]

    def gate_failures(self, threshold: str) -> list[AssessedThreat]:
        """Open threats whose residual band is ``threshold`` or worse (the CI gate)."""
        return [t for t in self.open_threats() if band_at_least(t.residual_risk.band, threshold)]


@dataclass(frozen=True)
class ThreatFilter:
    """What a person narrowed the register to: stages, STRIDE letters, residual bands, statuses, owners."""

    stages: frozenset[str] = frozenset()
    stride: frozenset[str] = frozenset()
    bands: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()

    def matches(self, item: AssessedThreat) -> bool:
        """Whether a threat passes every criterion that is set."""
        return ((not self.stages or bool(set(item.threat.stage_ids) & self.stages))
                and (not self.stride or item.threat.rule.stride in self.stride)
                and (not self.bands or item.residual_risk.band in self.bands)
                and (not self.statuses or item.status in self.statuses)
                and (not self.owners or item.owner_role in self.owners))


def assess(pipeline: Pipeline, catalog: Catalog | None = None, entries: dict | None = None,
           generation: int = 0, control_status: dict | None = None, threat_set: ThreatSet | None = None,
           path_limit: int = 25) -> Assessment:
    """Combine generated threats with register rows (optional) and control status (optional)."""
    catalog = catalog or load_catalog()
    threat_set = threat_set or generate_threats(pipeline, catalog)
    entries = entries or {}
    control_status = control_status or {}
    implemented = reg.implemented_controls(control_status) if control_status else frozenset()
    assessed = []
    for threat in threat_set.threats:
        entry = entries.get(threat.id)
        controls = [catalog.controls[c] for c in threat.rule.controls if c in catalog.controls]
        done = tuple(c.id for c in controls if c.id in implemented)
        assessed.append(AssessedThreat(
            threat=threat, status=entry.status if entry else "open",
            justification=entry.justification if entry else "",
            owner_role=entry.owner_role if entry else threat.rule.owner,
            ticket=entry.ticket if entry else "", due_date=entry.due_date if entry else None,
            is_new=bool(entry and generation > 1 and entry.first_seen_generation == generation),
            implemented_controls=done, residual=residual(threat.risk, controls, implemented) if done else None))
    present = {t.id for t in threat_set.threats} | {t.id for t in threat_set.suppressed}
    vanished = tuple(e for e in entries.values() if not e.present and e.threat_id not in present)
    scores = [(t.threat.element_type, t.threat.element_id, t.residual_risk.score)
              for t in assessed if t.status not in CLOSED_FOR_PATHS]
    return Assessment(pipeline=pipeline, catalog=catalog, threats=tuple(assessed), suppressed=threat_set.suppressed,
                      vanished=vanished, paths=tuple(attack_paths(pipeline, scores, limit=path_limit)),
                      control_status=control_status, generation=generation)


def assess_stored(store: Store, pipeline: Pipeline, catalog: Catalog | None = None,
                  pipeline_version: int | None = None, author: str = "system") -> tuple[Assessment, reg.SyncResult]:
    """Generate, sync the register of the pipeline in the store, and assess with its decisions.

    Only the shared catalog writes the shared register, and only for someone who may edit the
    pipeline's threats: a person's own rules file (``catalog.user_source``) or a reader's visit
    gives an assessment against the stored decisions and changes nothing in the store.
    """
    catalog = catalog or load_catalog()
    threat_set = generate_threats(pipeline, catalog)
    if catalog.user_source is None and can("edit_threats", pipeline.id):
        sync = reg.sync_register(store, pipeline.id, threat_set.threats, pipeline_version, author)
        entries, generation = reg.load_register(store, pipeline.id)
    else:
        entries, generation = reg.load_register(store, pipeline.id)
        sync = reg.SyncResult(generation, (), (), (), False)
    states = reg.control_states(store, pipeline.id)
    return assess(pipeline, catalog, entries, generation, states, threat_set), sync
