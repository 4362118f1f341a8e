"""The threat catalog's model: rules, controls, roles, references, assumptions, the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from secmlops_core.catalog.conditions import Condition

STRIDE = ("S", "T", "R", "I", "D", "E")
LIFECYCLE_STAGES = ("data_collection", "data_preparation", "model_training", "model_evaluation",
                    "model_deployment", "model_serving", "monitoring")
ELEMENT_TYPES = ("stage", "flow")


@dataclass(frozen=True)
class Role:
    """One of the eight security roles."""

    id: str
    name: str
    responsibility: str


@dataclass(frozen=True)
class Control:
    """A security control with its PTPGC component, owner role and risk effect."""

    id: str
    title: str
    description: str
    ptpgc: str
    owner: str
    reduces: str  # "likelihood" or "impact"
    by: int = 1


@dataclass(frozen=True)
class Adjustment:
    """A rule-specific change of likelihood/impact when a condition holds."""

    when: Condition
    likelihood: int
    impact: int
    because: str


@dataclass(frozen=True)
class ThreatRule:
    """One threat rule: where it applies, what it means, how risky, what to do."""

    id: str
    title: str
    stride: str
    applies_to: str
    match: Condition
    match_text: str
    lifecycle: str
    description: str
    likelihood: int
    impact: int
    controls: tuple[str, ...]
    owner: str
    nist_attack: str | None
    nist_objective: str
    atlas: tuple[str, ...] = ()
    owasp_ml: tuple[str, ...] = ()
    adjust: tuple[Adjustment, ...] = ()
    telemetry_signal: str | None = None
    demo: str | None = None
    source: str = "built-in"
    stage_kind_filter: frozenset | None = None
    data_kind_filter: frozenset | None = None


@dataclass(frozen=True)
class Assumption:
    """An accepted assumption that suppresses some rules on some (or all) elements."""

    id: str
    statement: str
    rules: frozenset
    elements: frozenset  # empty: every element


@dataclass(frozen=True)
class References:
    """Names of the framework ids that rules cite."""

    owasp_ml: dict
    nist_attack_classes: dict
    nist_objectives: dict
    stride: dict
    ptpgc: dict
    telemetry_signals: dict
    attack_demos: dict
    atlas: dict


@dataclass(frozen=True)
class Catalog:
    """Rules (built-in plus user), controls, roles, references and assumptions."""

    rules: dict[str, ThreatRule]
    controls: dict[str, Control]
    roles: dict[str, Role]
    references: References
    assumptions: tuple[Assumption, ...] = ()
    user_source: str | None = None

    def owner_name(self, role_id: str) -> str:
        """Display name of a role id (the id itself when unknown)."""
        role = self.roles.get(role_id)
        return role.name if role else role_id
