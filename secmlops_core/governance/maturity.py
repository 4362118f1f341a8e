"""Maturity per PTPGC component, on a 0-5 scale.

For each component c (people, technology, processes, governance, compliance):

    score(c) = 5 x (0.5 x I(c) + 0.25 x K(c) + 0.25 x G(c))

    I(c)  control implementation: over the catalog controls of component c that are not
          marked not applicable, implemented counts 1, planned 0.25, not started 0; the mean.
    K(c)  compliance coverage: the mean coverage (see compliance.py) of every framework
          requirement that maps at least one control of component c, across all frameworks.
    G(c)  operation: for people, the share of the pipeline's RACI rows in use whose accountable
          role has at least one person assigned; for the other components, the share of the
          lifecycle gates tagged with c (gates.yaml `ptpgc`) that pass.

A term with nothing to measure counts 0. Level = the whole part of the score: 0 none,
1 initial, 2 repeatable, 3 defined, 4 managed, 5 optimising.
"""

from __future__ import annotations

from dataclasses import dataclass

from secmlops_core.catalog.loading import load_controls, load_references
from secmlops_core.governance.compliance import FrameworkCoverage
from secmlops_core.governance.gates import PASS, GateReport

WEIGHTS = {"implementation": 0.5, "coverage": 0.25, "operation": 0.25}
STATUS_CREDIT = {"implemented": 1.0, "planned": 0.25, "not_started": 0.0}
LEVELS = ("none", "initial", "repeatable", "defined", "managed", "optimising")


@dataclass(frozen=True)
class ComponentMaturity:
    """The maturity of one PTPGC component and its three terms (each 0..1)."""

    component: str
    name: str
    implementation: float
    coverage: float
    operation: float
    operation_basis: str

    @property
    def score(self) -> float:
        """0..5, one decimal."""
        value = 5 * (WEIGHTS["implementation"] * self.implementation + WEIGHTS["coverage"] * self.coverage
                     + WEIGHTS["operation"] * self.operation)
        return round(value, 1)

    @property
    def level(self) -> str:
        """Name of the level reached."""
        return LEVELS[min(5, int(self.score))]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def maturity(statuses: dict[str, str], coverages: dict[str, FrameworkCoverage], report: GateReport,
             staffed_rows: tuple[int, int]) -> list[ComponentMaturity]:
    """Maturity of each PTPGC component; ``staffed_rows`` = (rows with a staffed accountable, rows in use)."""
    controls = load_controls()
    out = []
    for component, name in load_references().ptpgc.items():
        mine = {cid for cid, c in controls.items() if c.ptpgc == component}
        credits = [STATUS_CREDIT[statuses.get(cid, "not_started")] for cid in mine
                   if statuses.get(cid, "not_started") != "not_applicable"]
        shares = [r.share for fc in coverages.values() for r in fc.requirements if mine & set(r.requirement.controls)]
        if component == "people":
            staffed, used = staffed_rows
            operation, basis = (staffed / used if used else 0.0), f"{staffed} of {used} RACI rows have a staffed accountable role"
        else:
            tagged = [g for g in report.gates if component in g.gate.ptpgc]
            passed = sum(1 for g in tagged if g.status == PASS)
            operation, basis = (passed / len(tagged) if tagged else 0.0), f"{passed} of {len(tagged)} gates pass"
        out.append(ComponentMaturity(component, name, _mean(credits), _mean(shares), operation, basis))
    return out
