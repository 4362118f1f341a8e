"""What changed between two versions of a pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from secmlops_core.pipeline.formats import to_document
from secmlops_core.pipeline.model import Pipeline


@dataclass(frozen=True)
class Change:
    """One field of one element that differs between the versions."""

    element: str  # "stage", "flow" or "zone"
    element_id: str
    field: str
    before: object
    after: object


@dataclass
class PipelineDiff:
    """Elements added, removed and changed from ``old`` to ``new``."""

    added: list[tuple[str, str]] = field(default_factory=list)  # (element, id)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when the two versions are identical in content."""
        return not (self.added or self.removed or self.changed)


def _flatten(entry: dict) -> dict:
    flat = {}
    for key, value in entry.items():
        if key == "id":
            continue
        if key == "properties":
            flat.update({f"properties.{name}": v for name, v in value.items()})
        else:
            flat[key] = value
    return flat


def diff_pipelines(old: Pipeline, new: Pipeline, include_positions: bool = False) -> PipelineDiff:
    """Compare two pipelines element by element (positions ignored unless asked for)."""
    result = PipelineDiff()
    old_doc, new_doc = to_document(old), to_document(new)
    for element, key in (("zone", "zones"), ("stage", "stages"), ("flow", "flows")):
        before = {entry["id"]: _flatten(entry) for entry in old_doc[key]}
        after = {entry["id"]: _flatten(entry) for entry in new_doc[key]}
        result.added += [(element, i) for i in after if i not in before]
        result.removed += [(element, i) for i in before if i not in after]
        for element_id in (i for i in after if i in before):
            fields = sorted(set(before[element_id]) | set(after[element_id]))
            for name in fields:
                if name == "position" and not include_positions:
                    continue
                a, b = before[element_id].get(name), after[element_id].get(name)
                if a != b:
                    result.changed.append(Change(element, element_id, name, a, b))
    for name in ("name", "description"):
        if old_doc.get(name) != new_doc.get(name):
            result.changed.append(Change("pipeline", new.id, name, old_doc.get(name), new_doc.get(name)))
    return result
