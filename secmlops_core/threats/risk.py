"""Risk = likelihood x impact on a 5x5 matrix, with named bands.

Likelihood and impact are whole numbers from 1 (rare / negligible) to 5 (almost certain /
severe). The score is their product (1..25) and falls into one band:

    score  1-3   low        accept or watch
    score  4-6   medium     treat in the normal backlog
    score  8-10  elevated   treat this release
    score 12-16  high       treat before production
    score 20-25  critical   stop: treat now

              impact ->   1      2      3      4      5
    likelihood 5        med    ele    hig    cri    cri
               4        med    ele    hig    hig    cri
               3        low    med    ele    hig    hig
               2        low    med    med    ele    ele
               1        low    low    low    med    med

Residual risk: each implemented control of a threat lowers the factor it ``reduces``
(likelihood or impact) by its ``by`` steps, never below 1.
"""

from __future__ import annotations

from dataclasses import dataclass

BANDS = ("low", "medium", "elevated", "high", "critical")
BAND_RANK = {band: rank for rank, band in enumerate(BANDS)}
BAND_FLOORS = ((20, "critical"), (12, "high"), (8, "elevated"), (4, "medium"), (1, "low"))
LEVEL_NAMES = {
    "likelihood": ("rare", "unlikely", "possible", "likely", "almost certain"),
    "impact": ("negligible", "minor", "moderate", "major", "severe"),
}


def clamp(level: int) -> int:
    """A level forced into 1..5."""
    return max(1, min(5, int(level)))


def band_for(score: int) -> str:
    """The band of a likelihood x impact score."""
    for floor, band in BAND_FLOORS:
        if score >= floor:
            return band
    return "low"


def band_at_least(band: str, threshold: str) -> bool:
    """True when ``band`` is ``threshold`` or worse."""
    return BAND_RANK[band] >= BAND_RANK[threshold]


@dataclass(frozen=True)
class Risk:
    """A scored risk."""

    likelihood: int
    impact: int

    @property
    def score(self) -> int:
        """Likelihood x impact (1..25)."""
        return self.likelihood * self.impact

    @property
    def band(self) -> str:
        """The named band of the score."""
        return band_for(self.score)


def residual(inherent: Risk, controls, implemented: frozenset | set) -> Risk:
    """The risk left after the implemented ones of ``controls`` (Control objects)."""
    likelihood, impact = inherent.likelihood, inherent.impact
    for control in controls:
        if control.id in implemented:
            if control.reduces == "likelihood":
                likelihood -= control.by
            else:
                impact -= control.by
    return Risk(clamp(likelihood), clamp(impact))


def matrix_bands() -> list[list[str]]:
    """The 5x5 band grid, rows = likelihood 5..1, columns = impact 1..5 (for heat maps)."""
    return [[band_for(likelihood * impact) for impact in range(1, 6)] for likelihood in range(5, 0, -1)]
