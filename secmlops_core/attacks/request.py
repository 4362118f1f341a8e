"""What an attack-lab run is asked to do: the raw request a form or the command line gives, and
the typed request checked once from it and passed on as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from secmlops_core.attacks.specs import AttackSpec, check_defenses, check_params, get_attack


@dataclass(frozen=True)
class AttackRequest:
    """What to run as given: attack id, raw parameters, image, defenses and links."""

    attack: str
    image_ref: str = "sample:bus"
    params: dict = field(default_factory=dict)
    preset: str | None = None
    defenses: tuple = ()
    adaptive: bool = False
    weights: str | None = None
    pipeline_id: str | None = None
    threat_id: str | None = None
    report_to_operations: bool = False  # a demo stays out of the operations queue unless asked

    def check(self) -> CheckedRequest:
        """The checked request; raises UserFacingError / ValidationFailed naming every invalid value."""
        spec = get_attack(self.attack)
        params = check_params(self.attack, self.params, self.preset)
        return CheckedRequest(spec=spec, params=MappingProxyType(params), defenses=tuple(check_defenses(self.defenses)),
                              image_ref=self.image_ref, preset=self.preset, adaptive=self.adaptive,
                              weights=self.weights, pipeline_id=self.pipeline_id, threat_id=self.threat_id,
                              report_to_operations=bool(self.report_to_operations))


@dataclass(frozen=True)
class CheckedRequest:
    """A request whose attack, parameters and defenses passed the catalog's checks."""

    spec: AttackSpec
    params: Mapping[str, float | int]
    defenses: tuple[str, ...]
    image_ref: str
    preset: str | None
    adaptive: bool
    weights: str | None
    pipeline_id: str | None
    threat_id: str | None
    report_to_operations: bool = False

    @property
    def attack(self) -> str:
        """The attack id."""
        return self.spec.id

    def recorded_params(self) -> dict:
        """The parameters as a run records them (checked values, preset, defenses, adaptive, reported)."""
        return {**self.params, "preset": self.preset, "defenses": list(self.defenses), "adaptive": self.adaptive,
                "report_to_operations": self.report_to_operations}
