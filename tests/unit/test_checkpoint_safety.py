"""Checkpoints are read by torch's restricted unpickler first: a checkpoint that names code to run never runs it."""

from __future__ import annotations

import copy
import os
import pickle
import shlex
from pathlib import Path

import pytest
import yaml

from secmlops_core.access import audit
from secmlops_core.detector import checkpoint_safety as safety
from secmlops_core.detector import images, weights
from secmlops_core.detector.model import load_detector
from secmlops_core.errors import UserFacingError
from secmlops_core.feed.sources import sample_image_paths
from secmlops_core.settings import load_settings
from secmlops_core.store import get_store

BUS, _ = sample_image_paths()


class _RunsCodeOnLoad:
    """Unpickling this runs ``touch MARKER`` through os.system (as the hostile corpus's checkpoint does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.fixture()
def fresh_settings(tmp_path):
    return load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})


@pytest.fixture()
def marker(tmp_path) -> Path:
    return tmp_path / "pwned-by-pickle"


@pytest.fixture()
def raw_pickle(tmp_path, marker) -> Path:
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps(_RunsCodeOnLoad(marker)))
    return path


@pytest.fixture()
def zipped_payload(tmp_path, marker) -> Path:
    """The realistic case: torch.save wraps the hostile pickle in a zip next to a plausible layout."""
    import torch

    path = tmp_path / "best.pt"
    torch.save({"model": _RunsCodeOnLoad(marker), "train_args": {"task": "detect"}}, path)
    return path


@pytest.fixture(scope="module")
def attack_base(tmp_path_factory):
    """The built-in detector as an attack model (the base candidates are fine-tuned from)."""
    from secmlops_core.attacks.model import load_attack_model

    settings = load_settings({"SECMLOPS_HOME": str(tmp_path_factory.mktemp("ckpt") / "home")})
    return load_attack_model("pds-yolov8s-fall", settings)


def _register_by_hand(settings, path: Path, weights_id: str) -> None:
    """What someone editing weights.yaml directly (or a bypassed register) leaves behind."""
    settings.weights_registry_path.parent.mkdir(parents=True, exist_ok=True)
    settings.weights_registry_path.write_text(yaml.safe_dump({"weights": [
        {"id": weights_id, "sha256": weights.sha256_file(path), "path": str(path), "pedestrian_classes": [0]}]}))


def _assert_nothing_recorded(settings) -> None:
    assert not settings.weights_registry_path.exists()
    assert audit.entries(get_store(settings.store_path), action="weights.register") == []


# -- (a) a checkpoint that runs code -------------------------------------------------------

def test_registering_a_code_running_pickle_is_refused(raw_pickle, marker, fresh_settings):
    with pytest.raises(UserFacingError, match=r"refusing checkpoint .*raw\.pt: it is not a zip-format torch checkpoint"):
        weights.register_weights(raw_pickle, "evil", settings=fresh_settings)
    assert not marker.exists()
    _assert_nothing_recorded(fresh_settings)


def test_a_zipped_torch_save_payload_is_refused_naming_the_global(zipped_payload, marker, fresh_settings):
    import torch

    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(zipped_payload)) == ["posix.system"]
    with pytest.raises(UserFacingError, match=r"best\.pt: it references posix\.system, which a detector checkpoint "
                                              r"never needs.*refused even when registered"):
        weights.register_weights(zipped_payload, "evil", settings=fresh_settings)
    assert not marker.exists()
    _assert_nothing_recorded(fresh_settings)


@pytest.mark.parametrize("payload, message", [("zipped_payload", r"references posix\.system"),
                                              ("raw_pickle", "not a zip-format torch checkpoint")])
def test_a_hand_registered_payload_is_refused_by_load_detector_without_running(request, payload, message, marker,
                                                                               fresh_settings):
    path = request.getfixturevalue(payload)
    _register_by_hand(fresh_settings, path, "evil")
    assert weights.resolve_weights("evil", fresh_settings).sha256 == weights.sha256_file(path)  # it is "trusted"
    with pytest.raises(UserFacingError, match=rf"weights 'evil' .*{message}"):
        load_detector("evil", fresh_settings)
    assert not marker.exists(), "the pickle must never be unpickled in full"


@pytest.mark.parametrize("payload, message", [("zipped_payload", r"references posix\.system"),
                                              ("raw_pickle", "not a zip-format torch checkpoint")])
def test_a_payload_as_a_candidate_is_refused_by_load_candidate_model_without_running(request, payload, message, marker,
                                                                                     attack_base):
    from secmlops_core.attacks.model import load_candidate_model

    path = request.getfixturevalue(payload)
    with pytest.raises(UserFacingError, match=rf"candidate evil-1: .*{message}"):
        load_candidate_model(path, weights.sha256_file(path), attack_base, "evil-1")
    assert not marker.exists(), "the pickle must never be unpickled in full"


@pytest.mark.parametrize("name", ["posix.system", "builtins.eval", "builtins.exec", "builtins.getattr",
                                  "subprocess.Popen", "commands.Popen", "os.system",
                                  "torch.nn.modules.module.register_module_forward_hook",  # a function, not a class
                                  "ultralytics.nn.modules.block.torch",  # a module re-exported there
                                  "ultralytics.nn.modules.conv.Tensor",  # a class not defined there
                                  "ultralytics.nn.modules.nope.Conv", "ultralytics.nn.tasks.SegmentationModel"])
def test_the_allow_list_admits_no_code_and_no_stray_names(name):
    assert safety.allowed_global(name) is None


def test_the_allow_list_admits_layer_classes_and_lists_no_forbidden_module():
    from ultralytics.nn.modules.conv import Conv

    assert safety.allowed_global("ultralytics.nn.modules.conv.Conv") is Conv
    assert safety.allowed_global("torch.nn.modules.conv.Conv2d").__name__ == "Conv2d"
    listed = safety.allow_list()
    assert {"builtins", "os", "posix", "subprocess"} <= set(listed.never_modules)
    assert all(isinstance(safety.allowed_global(n), type) for n in listed.classes)
    assert not any(listed.is_never(n) for n in listed.classes + listed.functions + listed.module_class_prefixes)


def test_a_global_marked_safe_elsewhere_in_the_process_makes_the_check_refuse(tmp_path):
    import fractions

    import torch

    path = _coco_checkpoint(tmp_path / "coco.pt")
    with torch.serialization.safe_globals([fractions.Fraction]):
        with pytest.raises(UserFacingError, match=r"fractions\.Fraction safe for every restricted load"):
            safety.safe_load_checkpoint(path)
    assert safety.inspect_detector_checkpoint(path) is not None


# -- (b) files that are not checkpoints -----------------------------------------------------

@pytest.mark.parametrize("name, content, message", [
    ("empty.pt", b"", r"empty \(0 bytes\)"),
    ("notes.pt", b"this is a text file, not weights\n", "not a zip-format torch checkpoint"),
])
def test_empty_and_text_files_are_refused_at_register(tmp_path, fresh_settings, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UserFacingError, match=rf"refusing checkpoint .*{name}: .*{message}"):
        weights.register_weights(path, "junk", settings=fresh_settings)
    _assert_nothing_recorded(fresh_settings)


def test_a_checkpoint_without_a_detection_network_is_refused_at_register(tmp_path, fresh_settings):
    import torch

    plain = tmp_path / "plain.pt"
    torch.save({"model": torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))}, plain)
    with pytest.raises(UserFacingError, match="no class names"):
        weights.register_weights(plain, "plain", settings=fresh_settings)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(UserFacingError, match="holds a Tensor"):
        weights.register_weights(tensor, "tensor", settings=fresh_settings)
    _assert_nothing_recorded(fresh_settings)


# -- (c) the shipped weights and ultralytics checkpoints pass -------------------------------

def test_the_shipped_default_weights_pass_and_still_load_and_detect(tmp_path, fresh_settings):
    entry = weights.builtin_weights()[0]
    network = safety.inspect_detector_checkpoint(entry.file_path())
    assert type(network).__name__ == "DetectionModel" and dict(network.names) == {0: "Normal", 1: "Fall"}
    copied = tmp_path / "mine.pt"
    copied.write_bytes(entry.file_path().read_bytes() + b"\0")  # another file, so it is not the built-in entry
    registered = weights.register_weights(copied, "mine", pedestrian_classes=[0, 1], settings=fresh_settings)
    assert [e.action for e in audit.entries(get_store(fresh_settings.store_path))] == ["weights.register"]
    detector = load_detector("mine", fresh_settings)
    result = detector.predict([images.load_image_file(BUS, fresh_settings)])[0]
    assert result.model_sha256 == registered.sha256 and result.pedestrians >= 4


def _coco_checkpoint(path: Path, trainer_shape: bool = False) -> Path:
    """An untrained COCO YOLOv8n, saved as YOLO.save does or as ultralytics' trainer writes last.pt."""
    import numpy as np
    import torch
    import ultralytics
    from ultralytics import YOLO
    from ultralytics.cfg import get_cfg
    from ultralytics.utils import DEFAULT_CFG

    yolo = YOLO("yolov8n.yaml")  # built offline from its YAML, untrained
    coco = Path(ultralytics.__file__).parent / "cfg" / "datasets" / "coco.yaml"
    yolo.model.names = yaml.safe_load(coco.read_text())["names"]
    if not trainer_shape:
        yolo.save(str(path))
        return path
    args = get_cfg(DEFAULT_CFG)
    ema = copy.deepcopy(yolo.model).half()
    ema.args = args
    optimiser = torch.optim.SGD(yolo.model.parameters(), lr=0.01, momentum=0.9)
    torch.save({"epoch": 3, "best_fitness": np.float64(0.5), "model": None, "ema": ema, "updates": 10,
                "optimizer": optimiser.state_dict(), "train_args": vars(args),
                "train_metrics": {"metrics/mAP50(B)": np.float64(0.3), "fitness": np.float64(0.4)},
                "train_results": {}, "date": "2026-01-01T00:00:00", "version": "8.4", "git": {},
                "license": "AGPL-3.0", "docs": "https://docs.ultralytics.com"}, path)
    return path


@pytest.mark.parametrize("trainer_shape", [False, True])
def test_a_coco_ultralytics_checkpoint_passes_and_registers(tmp_path, fresh_settings, trainer_shape):
    path = _coco_checkpoint(tmp_path / "yolov8n-coco.pt", trainer_shape)
    network = safety.inspect_detector_checkpoint(path)
    assert len(network.names) == 80 and network.names[0] == "person"
    entry = weights.register_weights(path, "coco", settings=fresh_settings)
    assert weights.resolve_weights("coco", fresh_settings).sha256 == entry.sha256


# -- (d) candidates the attack lab saves pass -----------------------------------------------

def test_a_candidate_saved_the_projects_way_passes_loads_and_registers(attack_base, store, secmlops_home):
    from secmlops_core.attacks import finetune as ft
    from secmlops_core.attacks.model import load_candidate_model
    from secmlops_core.settings import get_settings

    settings = get_settings()
    sources = ft.sample_frames(attack_base, 160, settings)
    module, _ = ft.fine_tune(attack_base, ft.augmented_set(sources, 2, 160, 0), 1, 0.002, 0, adversarial_eps=2 / 255)
    assert module.criterion is not None  # a fine-tune leaves its loss on the module, and it is saved with it
    saved = ft.save_candidate(store, attack_base, module, "adv-trained", {"eps": 2 / 255}, {}, None, settings)
    network = safety.inspect_detector_checkpoint(saved.path)
    assert dict(network.names) == attack_base.names
    candidate = load_candidate_model(Path(saved.path), saved.sha256, attack_base, saved.candidate_id)
    assert candidate.model_id == saved.candidate_id and candidate.predict(sources[0].x)[0].pedestrians >= 1
    entry = weights.register_weights(saved.path, saved.candidate_id, settings=settings)
    assert entry.sha256 == saved.sha256
