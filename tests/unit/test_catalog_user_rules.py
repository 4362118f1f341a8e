"""User rule files: additions, replacements, disabling, assumptions; every bad input explained."""

import pytest

from secmlops_core.catalog.loading import builtin_rules, load_catalog
from secmlops_core.errors import UserFacingError, ValidationFailed

GOOD_RULE = """
rules:
  - id: ORG-001
    title: Camera firmware from an unvetted vendor
    stride: T
    applies_to: stage
    lifecycle: data_collection
    match: {stage_kinds: [camera_fleet], property: third_party, equals: true}
    description: The organisation's own concern about third-party camera firmware.
    atlas: [AML.T0010.000]
    nist: {objective: integrity}
    likelihood: 2
    impact: 3
    controls: [CTL-VENDOR-ASSURANCE]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_catalog(user_text=text, source_name="org.yaml")
    return caught.value.problems


def test_user_rule_is_added_and_builtins_kept():
    catalog = load_catalog(user_text=GOOD_RULE, source_name="org.yaml")
    assert "ORG-001" in catalog.rules
    assert len(catalog.rules) == len(builtin_rules()) + 1
    assert catalog.rules["ORG-001"].source == "org.yaml"
    assert catalog.user_source == "org.yaml"


def test_user_rule_replaces_builtin_with_same_id_and_disable_removes():
    text = GOOD_RULE.replace("ORG-001", "SML-LBL-001") + "disable: [SML-SRC-002]\n"
    catalog = load_catalog(user_text=text)
    assert catalog.rules["SML-LBL-001"].title == "Camera firmware from an unvetted vendor"
    assert "SML-SRC-002" not in catalog.rules
    assert "SML-SRC-002" in builtin_rules()  # the built-in catalog itself is untouched


def test_user_rules_from_a_file(tmp_path):
    path = tmp_path / "org-rules.yaml"
    path.write_text(GOOD_RULE, encoding="utf-8")
    assert "ORG-001" in load_catalog(path).rules
    with pytest.raises(UserFacingError, match="no such rule file"):
        load_catalog(tmp_path / "missing.yaml")


def test_yaml_syntax_error_names_file_and_line():
    problems = _problems("rules:\n  - id: X\n    title: [unclosed\n")
    assert any("org.yaml" in p and "line" in p for p in problems), problems


@pytest.mark.parametrize("change, expected", [
    (("stride: T", "stride: Q"), "rule 'ORG-001'.stride"),
    (("    impact: 3\n", "    impact: 3\n    severity: 9\n"), "unknown field 'severity'"),
    (("property: third_party", "property: waterproof"), "unknown stage property 'waterproof'"),
    (("AML.T0010.000", "AML.T9999"), "unknown MITRE ATLAS technique 'AML.T9999'"),
    (("AML.T0010.000", "T1234"), "not an ATLAS technique id"),
    (("stage_kinds: [camera_fleet]", "stage_kinds: [toaster]"), "unknown stage kind 'toaster'"),
    (("equals: true", "equals: maybe"), "must be true or false"),
    (("controls: [CTL-VENDOR-ASSURANCE]", "controls: [CTL-NOPE]"), "unknown control 'CTL-NOPE'"),
    (("controls: [CTL-VENDOR-ASSURANCE]", "controls: []"), "at least one control"),
    (("likelihood: 2", "likelihood: 9"), "likelihood: must be a whole number from 1 to 5"),
    (("applies_to: stage", "applies_to: zone"), "applies_to: must be stage or flow"),
    (("lifecycle: data_collection", "lifecycle: someday"), "lifecycle: must be one of"),
    (("match: {stage_kinds: [camera_fleet], property: third_party, equals: true}",
      "match: {stage_kinds: [camera_fleet], crosses_boundary: true}"), "unknown condition 'crosses_boundary' for a stage"),
    (("match: {stage_kinds: [camera_fleet], property: third_party, equals: true}",
      "match: {property: third_party, equals: true, in: [true]}"), "needs exactly one of"),
])
def test_bad_rule_is_explained_by_file_rule_and_field(change, expected):
    problems = _problems(GOOD_RULE.replace(*change))
    assert any(expected in p and "org.yaml" in p for p in problems), problems


def test_unknown_top_level_field_and_bad_disable_and_assumption():
    problems = _problems("rulez: []\ndisable: [SML-NOPE]\nassumptions:\n  - {id: A1, statement: x, rules: [NOPE]}\n")
    text = "\n".join(problems)
    assert "unknown top-level field 'rulez'" in text
    assert "disable: unknown rule id 'SML-NOPE'" in text
    assert "assumption 'A1': unknown rule id 'NOPE'" in text


def test_yaml_aliases_are_refused():
    problems = _problems("rules: &a []\ndisable: *a\n")
    assert any("not allowed" in p for p in problems)


def test_deeply_nested_conditions_are_refused():
    nested = "{property: third_party, equals: true}"
    for _ in range(20):
        nested = "{not: " + nested + "}"
    problems = _problems(GOOD_RULE.replace("{stage_kinds: [camera_fleet], property: third_party, equals: true}", nested))
    assert any("nested more than" in p for p in problems)


def test_assumptions_are_loaded():
    catalog = load_catalog(user_text="assumptions:\n  - id: A1\n    statement: Cameras are in locked housings.\n"
                                     "    rules: [SML-SRC-002]\n    elements: [camera_fleet]\n")
    assert catalog.assumptions[0].rules == frozenset({"SML-SRC-002"})
