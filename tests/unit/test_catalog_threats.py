"""The built-in threat catalog: well-formed, referenced ids exist, coverage of the ML threats."""

import collections

import pytest
import yaml

from secmlops_core.catalog.loading import builtin_rules, load_controls, load_references, load_roles
from secmlops_core.catalog.model import LIFECYCLE_STAGES, STRIDE
from secmlops_core.catalog.vocabulary import stage_kinds
from tests.conftest import ATLAS_PATH


@pytest.fixture(scope="module")
def atlas_techniques():
    if not ATLAS_PATH.exists():
        pytest.skip(f"MITRE ATLAS data not found at {ATLAS_PATH}")
    data = yaml.load(ATLAS_PATH.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {t["id"]: t["name"] for t in data["matrices"][0]["techniques"]}


def test_at_least_80_rules_with_unique_ids():
    rules = builtin_rules()
    assert len(rules) >= 80
    ids = []
    from secmlops_core.catalog.loading import builtin_rule_files

    for _, text in builtin_rule_files():
        ids += [entry["id"] for entry in yaml.safe_load(text)["rules"]]
    assert len(ids) == len(set(ids)) == len(rules)


def test_every_rule_has_controls_with_component_and_owner():
    controls, roles, refs = load_controls(), load_roles(), load_references()
    for rule in builtin_rules().values():
        assert rule.controls, rule.id
        for control_id in rule.controls:
            control = controls[control_id]
            assert control.ptpgc in refs.ptpgc
            assert control.owner in roles
        assert rule.owner in roles


def test_eight_roles_and_every_ptpgc_component_used():
    assert len(load_roles()) == 8
    assert {c.ptpgc for c in load_controls().values()} == set(load_references().ptpgc)


def test_every_atlas_id_exists_in_mitre_atlas(atlas_techniques):
    used = {a for rule in builtin_rules().values() for a in rule.atlas}
    assert used, "the catalog cites no ATLAS technique"
    assert used <= set(atlas_techniques), sorted(used - set(atlas_techniques))


def test_shipped_atlas_names_match_mitre(atlas_techniques):
    shipped = load_references().atlas
    assert shipped == atlas_techniques


def test_references_are_known():
    refs = load_references()
    assert set(refs.owasp_ml) == {f"ML{i:02d}" for i in range(1, 11)}
    for rule in builtin_rules().values():
        assert set(rule.owasp_ml) <= set(refs.owasp_ml)
        assert rule.nist_objective in refs.nist_objectives
        assert rule.nist_attack in (None, *refs.nist_attack_classes)
        assert rule.lifecycle in LIFECYCLE_STAGES
        assert rule.telemetry_signal in (None, *refs.telemetry_signals)
        assert rule.demo in (None, *refs.attack_demos)
        assert rule.description and len(rule.description) > 40


def test_coverage_every_stride_category_and_every_stage_kind():
    rules = builtin_rules().values()
    by_stride = collections.Counter(rule.stride for rule in rules)
    assert all(by_stride[letter] >= 8 for letter in STRIDE), by_stride
    kinds_with_rules = set()
    for rule in rules:
        if rule.applies_to == "stage" and rule.stage_kind_filter:
            kinds_with_rules |= rule.stage_kind_filter
    assert set(stage_kinds()) <= kinds_with_rules, set(stage_kinds()) - kinds_with_rules


@pytest.mark.parametrize("atlas_id", [
    "AML.T0020",      # poisoning
    "AML.T0043.004",  # backdoor trigger
    "AML.T0024.000",  # membership inference
    "AML.T0024.001",  # model inversion
    "AML.T0024.002",  # model extraction
    "AML.T0015",      # evasion
    "AML.T0011.000",  # unsafe (pickle) artifacts
    "AML.T0010.001",  # software supply chain
    "AML.T0055",      # unsecured credentials
    "AML.T0029",      # denial of AI service
    "AML.T0034.001",  # resource-intensive (sponge) queries
    "AML.T0046",      # chaff data
])
def test_required_ml_threats_are_covered(atlas_id):
    assert any(atlas_id in rule.atlas for rule in builtin_rules().values())


def test_demos_and_signals_are_used():
    rules = builtin_rules().values()
    assert {r.demo for r in rules} >= {"pgd-vanish", "pgd-ghost", "patch", "poisoning-backdoor"}
    assert {r.telemetry_signal for r in rules} >= {"drift_share", "detection_instability", "confidence_drop"}


def test_no_eval_or_exec_in_the_threat_code():
    import inspect

    import secmlops_core.catalog.conditions as conditions_module
    import secmlops_core.catalog.loading as loading_module
    import secmlops_core.catalog.model as model_module
    import secmlops_core.threats.engine as engine_module

    for module in (conditions_module, model_module, loading_module, engine_module):
        source = inspect.getsource(module)
        assert "eval(" not in source and "exec(" not in source

