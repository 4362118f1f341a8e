"""Attacks move the real detector's outputs in their intended direction on bus.jpg (CPU, 320 px, few steps)."""

from __future__ import annotations

import numpy as np
import pytest

from secmlops_core.errors import UserFacingError, ValidationFailed

IMGSZ = 320


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The default detector's attack copy, loaded once for the module (with its own data directory)."""
    from secmlops_core import settings as settings_module
    from secmlops_core.attacks.model import load_attack_model

    with pytest.MonkeyPatch.context() as patcher:
        patcher.setenv("SECMLOPS_HOME", str(tmp_path_factory.mktemp("attacks") / "home"))
        settings_module.get_settings.cache_clear()
        yield load_attack_model()
    settings_module.get_settings.cache_clear()


@pytest.fixture(scope="module")
def bus(model):
    """bus.jpg at 320 px as an NCHW batch, with the clean detections."""
    from secmlops_core.attacks import frames

    x = frames.bgr_to_nchw(frames.to_attack_frame(frames.load_source("sample:bus"), IMGSZ))
    return x, model.predict(x)[0]


def _attacked(model, bus, attack_id, **overrides):
    from secmlops_core.attacks import frames
    from secmlops_core.attacks.specs import ATTACKS, check_params
    from secmlops_core.attacks.evasion import run_evasion

    x, clean = bus
    params = check_params(attack_id, {"imgsz": IMGSZ, **overrides}, "subtle")
    adversarial = frames.quantise(run_evasion(model, x, attack_id, ATTACKS[attack_id].goal, params, clean))
    assert np.abs(adversarial - x).max() <= params["eps"] + 1 / 255
    return model.predict(adversarial)[0]


def test_clean_bus_has_four_upright_pedestrians(bus):
    _, clean = bus
    assert clean.pedestrians == 4
    assert {d.class_id for d in clean.detections if d.is_pedestrian} == {0}


def test_pgd_vanish_removes_pedestrians(model, bus):
    assert _attacked(model, bus, "pgd-vanish").pedestrians < bus[1].pedestrians


def test_fgsm_lowers_pedestrian_confidence(model, bus):
    after = _attacked(model, bus, "fgsm")
    confidence = lambda r: sum(d.confidence for d in r.detections if d.is_pedestrian)  # noqa: E731
    assert after.pedestrians <= bus[1].pedestrians and confidence(after) < confidence(bus[1])


def test_pgd_ghost_adds_pedestrians(model, bus):
    assert _attacked(model, bus, "pgd-ghost").pedestrians > bus[1].pedestrians


def test_pgd_flip_changes_classes(model, bus):
    after = _attacked(model, bus, "pgd-flip")
    assert any(d.class_id == 1 for d in after.detections if d.is_pedestrian)


def test_shipped_patch_lowers_recall(model, bus):
    from secmlops_core.attacks.defenses import match_boxes
    from secmlops_core.attacks.patch import apply_patch, load_shipped_patch

    x, clean = bus
    patch, shipped = load_shipped_patch(model.sha256)
    assert patch.shape[0] == 3 and shipped.file.stat().st_size < 64_000
    peds = [d for d in clean.detections if d.is_pedestrian]
    after = model.predict(apply_patch(x, patch, [d.box for d in peds], 0.6))[0]
    assert match_boxes(peds, [d for d in after.detections if d.is_pedestrian]) < len(peds)


def test_patch_training_lowers_its_loss(model, bus):
    from secmlops_core.attacks.patch import train_patch

    x, clean = bus
    _, history = train_patch(model, [(x, [d.box for d in clean.detections if d.is_pedestrian])], 6, size=32, seed=1)
    assert len(history) == 6 and min(history[3:]) < history[0]


def test_deepfool_flips_the_crop_classifier(model, bus):
    from secmlops_core.attacks.specs import check_params
    from secmlops_core.attacks.crop_classifier import run_classifier_attack

    x, clean = bus
    params = check_params("deepfool", {"max_crops": 1, "crop_size": 128, "max_iter": 20, "overshoot": 0.3})
    _, outcomes, queries = run_classifier_attack(model, x, "deepfool", params, clean)
    assert queries > 0 and outcomes[0].clean_score > 0.25 and outcomes[0].adversarial_score < outcomes[0].clean_score


def test_hopskipjump_is_query_only_and_lowers_the_score(model, bus):
    from secmlops_core.attacks.specs import check_params
    from secmlops_core.attacks.crop_classifier import run_classifier_attack

    x, clean = bus
    params = check_params("hopskipjump", {"max_crops": 1, "crop_size": 64, "max_iter": 1, "max_eval": 20, "init_eval": 5})
    _, outcomes, queries = run_classifier_attack(model, x, "hopskipjump", params, clean)
    assert queries > 5 and outcomes[0].flipped and outcomes[0].adversarial_score < 0.25


@pytest.mark.parametrize("defense", ["jpeg", "median", "squeeze", "tvm"])
def test_each_defense_runs_and_changes_the_attacked_outcome(model, bus, defense):
    from secmlops_core.attacks import frames
    from secmlops_core.attacks.specs import check_params
    from secmlops_core.attacks.defenses import apply_defense, build_preprocessor
    from secmlops_core.attacks.evasion import run_evasion

    x, clean = bus
    key = "adversarial"
    cache = test_each_defense_runs_and_changes_the_attacked_outcome.__dict__
    if key not in cache:
        params = check_params("pgd-vanish", {"imgsz": IMGSZ}, "subtle")
        cache[key] = frames.quantise(run_evasion(model, x, "pgd-vanish", "vanish", params, clean))
    adversarial = cache[key]
    defended = apply_defense(build_preprocessor(defense), adversarial)
    assert defended.shape == x.shape and not np.array_equal(defended, adversarial)
    before = model.predict(adversarial)[0]
    after = model.predict(defended)[0]
    assert [d.confidence for d in after.detections] != [d.confidence for d in before.detections]


def test_instability_flags_the_attacked_frame_more_than_the_clean_one(model, bus):
    from secmlops_core.attacks import frames
    from secmlops_core.attacks.specs import check_params
    from secmlops_core.attacks.defenses import detection_instability
    from secmlops_core.attacks.evasion import run_evasion

    x, clean = bus
    params = check_params("pgd-vanish", {"imgsz": IMGSZ, "eps": 2 / 255, "step": 0.5 / 255, "steps": 5})
    adversarial = frames.quantise(run_evasion(model, x, "pgd-vanish", "vanish", params, clean))
    assert detection_instability(model, adversarial).score > detection_instability(model, x, clean).score


@pytest.mark.parametrize("attack,raw,needle", [
    ("pgd-vanish", {"eps": 1.5}, "eps = 1.5 is outside (0, 1]"),
    ("pgd-vanish", {"eps": 0}, "eps = 0 is outside"),
    ("pgd-vanish", {"eps": -0.1}, "eps = -0.1 is outside"),
    ("pgd-vanish", {"steps": 1_000_000}, "steps = 1000000 is outside [1, 500]"),
    ("pgd-vanish", {"steps": 2.5}, "steps must be an integer"),
    ("pgd-vanish", {"eps": "lots"}, "eps must be a number"),
    ("pgd-vanish", {"eps": 0.01, "step": 0.05}, "must not exceed eps"),
    ("pgd-vanish", {"colour": 3}, "unknown parameter 'colour'"),
    ("hopskipjump", {"max_eval": 10**9}, "max_eval"),
    ("poisoning-backdoor", {"poison_fraction": 2}, "poison_fraction"),
])
def test_absurd_parameters_are_refused_with_clear_messages(attack, raw, needle):
    from secmlops_core.attacks.specs import check_params

    with pytest.raises(ValidationFailed) as error:
        check_params(attack, raw)
    assert needle in str(error.value)


def test_unknown_attack_preset_and_defense_are_refused():
    from secmlops_core.attacks.specs import check_defenses, check_params

    with pytest.raises(UserFacingError, match="unknown attack"):
        check_params("laser")
    with pytest.raises(UserFacingError, match="unknown preset"):
        check_params("pgd-vanish", None, "nuclear")
    with pytest.raises(UserFacingError, match="unknown defense"):
        check_defenses(["tinfoil"])


def test_demo_ids_cover_the_threat_rules():
    import re

    from secmlops_core.attacks.specs import DEMO_IDS
    from tests.conftest import REPO_ROOT

    used = set()
    for path in (REPO_ROOT / "secmlops_core" / "catalog" / "threat_rules").glob("*.yaml"):
        used |= set(re.findall(r"^\s*demo:\s*([\w-]+)", path.read_text(), flags=re.M))
    assert used and used <= set(DEMO_IDS)


def test_shipped_patch_hash_is_recorded_and_checked(tmp_path, monkeypatch, model):
    from secmlops_core.attacks import patch as patch_module

    shipped = patch_module.shipped_patches()[0]
    assert shipped.model_sha256 == model.sha256
    copy = tmp_path / shipped.file.name
    copy.write_bytes(shipped.file.read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(patch_module, "PATCH_DIR", tmp_path)
    monkeypatch.setattr(patch_module, "PATCH_INDEX", shipped.file.parent / "patches.yaml")
    with pytest.raises(UserFacingError, match="SHA-256"):
        patch_module.load_shipped_patch(model.sha256)
