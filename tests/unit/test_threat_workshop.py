"""Workshop questions per stage, and answers that become properties."""

import pytest

from secmlops_core.catalog.loading import load_catalog
from secmlops_core.errors import ValidationFailed
from secmlops_core.threats.engine import generate_threats
from secmlops_core.threats.workshop import apply_answers, changed_answers, stage_questions


def test_questions_are_the_properties_rules_test(pds_pipeline):
    questions = {q.spec.name: q for q in stage_questions(pds_pipeline, "crowd_labeling", load_catalog())}
    assert "audit_logging" in questions and "stores_pii" in questions
    assert questions["stores_pii"].current is True and questions["stores_pii"].explicit
    assert "SML-LBL-006" in questions["audit_logging"].rule_ids
    assert "protocol" not in questions  # free-text properties are not asked
    api = {q.spec.name for q in stage_questions(pds_pipeline, "detector", load_catalog())}
    assert {"robustness_tested", "safety_critical", "internet_facing"} <= api


def test_answers_set_properties_and_change_threats(pds_pipeline):
    catalog = load_catalog()
    answers = {"audit_logging": True, "stores_pii": True, "third_party": True}
    changed = changed_answers(pds_pipeline, "crowd_labeling", answers)
    assert changed == {"audit_logging": True}
    updated = apply_answers(pds_pipeline, "crowd_labeling", changed)
    assert updated.stage("crowd_labeling").properties["audit_logging"] is True
    assert pds_pipeline.stage("crowd_labeling").properties.get("audit_logging") is None  # original untouched
    before = {t.rule.id for t in generate_threats(pds_pipeline, catalog).threats if t.element_id == "crowd_labeling"}
    after = {t.rule.id for t in generate_threats(updated, catalog).threats if t.element_id == "crowd_labeling"}
    assert before - after == {"SML-LBL-006"}


def test_default_answer_removes_the_explicit_property(pds_pipeline):
    updated = apply_answers(pds_pipeline, "data_lake", {"encrypted": False})
    assert "encrypted" not in updated.stage("data_lake").properties


def test_invalid_answers_are_refused(pds_pipeline):
    with pytest.raises(ValidationFailed) as caught:
        apply_answers(pds_pipeline, "data_lake", {"encrypted": "yes", "colour": "red"})
    text = "\n".join(caught.value.problems)
    assert "unknown property 'colour'" in text and "must be true or false" in text
