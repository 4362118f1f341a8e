"""The pipeline vocabulary: stage kinds and the properties of stages and flows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class StageKind:
    """One kind of pipeline stage (see ``stage_kinds.yaml``)."""

    id: str
    label: str
    group: str
    dfd: str
    lifecycle: str
    description: str
    keywords: tuple[str, ...] = ()
    entry_point: bool = False
    asset: str | None = None


@dataclass(frozen=True)
class PropertySpec:
    """A property that may be set on a stage or a flow (see ``properties.yaml``)."""

    name: str
    applies_to: str  # "stage" or "flow"
    type: str  # "bool", "enum" or "text"
    default: object
    meaning: str
    question: str
    values: tuple[str, ...] = ()

    def check(self, value) -> str | None:
        """None when ``value`` is acceptable for this property, else why it is not."""
        if self.type == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.type == "enum":
            if isinstance(value, str) and value in self.values:
                return None
            return f"must be one of {', '.join(self.values)}; got {value!r}"
        if not isinstance(value, str):
            return f"must be text, got {type(value).__name__}"
        return None if len(value) <= 2000 else "must be at most 2,000 characters"


def _read_yaml(name: str) -> dict:
    text = resources.files("secmlops_core.catalog").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def stage_kinds() -> dict[str, StageKind]:
    """All stage kinds by id, in catalog order."""
    kinds = {}
    for entry in _read_yaml("stage_kinds.yaml")["kinds"]:
        entry = dict(entry)
        entry["keywords"] = tuple(entry.get("keywords", ()))
        kinds[entry["id"]] = StageKind(**entry)
    return kinds


@lru_cache(maxsize=1)
def property_specs() -> dict[str, dict[str, PropertySpec]]:
    """Property specs keyed by ``"stage"``/``"flow"``, then by property name."""
    raw = _read_yaml("properties.yaml")
    specs: dict[str, dict[str, PropertySpec]] = {}
    for applies_to in ("stage", "flow"):
        specs[applies_to] = {
            name: PropertySpec(name=name, applies_to=applies_to, type=spec["type"],
                               default=spec.get("default"), meaning=spec["meaning"],
                               question=spec["question"], values=tuple(spec.get("values", ())))
            for name, spec in raw[applies_to].items()
        }
    return specs
