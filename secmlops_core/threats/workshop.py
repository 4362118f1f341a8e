"""Workshop aids: the plain-language questions that matter for a stage, and applying answers.

A question is a stage property that some rule applicable to the stage's kind tests (in its
match or its risk adjustments). Answering sets the property on a copy of the pipeline,
which the caller saves as a new version and re-assesses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from secmlops_core.catalog.conditions import tested_properties
from secmlops_core.catalog.model import Catalog
from secmlops_core.catalog.vocabulary import PropertySpec, property_specs
from secmlops_core.errors import ValidationFailed
from secmlops_core.pipeline.formats import to_document
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.pipeline.validate import parse_pipeline


@dataclass(frozen=True)
class Question:
    """One workshop prompt for one stage, with the current answer."""

    spec: PropertySpec
    current: object
    explicit: bool
    rule_ids: tuple[str, ...]


def stage_questions(pipeline: Pipeline, stage_id: str, catalog: Catalog) -> list[Question]:
    """The questions whose answers change which threats a stage gets or how risky they are."""
    stage = pipeline.stage(stage_id)
    specs = property_specs()["stage"]
    rules_by_property: dict[str, list[str]] = {}
    for rule in catalog.rules.values():
        if rule.applies_to != "stage" or (rule.stage_kind_filter is not None and stage.kind not in rule.stage_kind_filter):
            continue
        tested = tested_properties(rule.match, "stage")
        for adjustment in rule.adjust:
            tested |= tested_properties(adjustment.when, "stage")
        for context, name in tested:
            if context == "stage" and specs[name].type in ("bool", "enum"):
                rules_by_property.setdefault(name, []).append(rule.id)
    return [Question(spec=spec, current=stage.properties.get(name, spec.default),
                     explicit=name in stage.properties, rule_ids=tuple(sorted(rules_by_property[name])))
            for name, spec in specs.items() if name in rules_by_property]


def apply_answers(pipeline: Pipeline, stage_id: str, answers: dict) -> Pipeline:
    """A validated copy of the pipeline with the stage's properties set to ``answers``.

    An answer equal to the catalog default removes the explicit property (keeps files small).
    """
    specs = property_specs()["stage"]
    problems = [f"stage '{stage_id}': unknown property {name!r}" for name in answers if name not in specs]
    problems += [f"stage '{stage_id}': property '{name}' {error}" for name, value in answers.items()
                 if name in specs and (error := specs[name].check(value))]
    if problems:
        raise ValidationFailed(problems, "workshop answers")
    updated = copy.deepcopy(pipeline)
    stage = updated.stage(stage_id)
    for name, value in answers.items():
        if value == specs[name].default:
            stage.properties.pop(name, None)
        else:
            stage.properties[name] = value
    return parse_pipeline(to_document(updated))


def changed_answers(pipeline: Pipeline, stage_id: str, answers: dict) -> dict:
    """Only the answers that differ from the stage's current effective values."""
    stage = pipeline.stage(stage_id)
    specs = property_specs()["stage"]
    return {name: value for name, value in answers.items()
            if name in specs and stage.properties.get(name, specs[name].default) != value}
