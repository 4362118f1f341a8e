"""The detector on CPU with the real weights, the weights registry, and guarded image decoding."""

from __future__ import annotations

import copy
import io
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from secmlops_core.detector import images, weights
from secmlops_core.detector.model import load_detector
from secmlops_core.errors import UserFacingError
from secmlops_core.feed.sources import sample_image_paths
from secmlops_core.settings import load_settings

BUS, ZIDANE = sample_image_paths()


@pytest.fixture(scope="session")
def detector_settings(tmp_path_factory):
    return load_settings({"SECMLOPS_HOME": str(tmp_path_factory.mktemp("det") / "home")})


@pytest.fixture(scope="session")
def detector(detector_settings):
    """The built-in PDS detector, loaded once for the session."""
    return load_detector("pds-yolov8s-fall", detector_settings)


@pytest.fixture()
def fresh_settings(tmp_path):
    return load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})


# -- real model ---------------------------------------------------------------------------

@pytest.mark.slow
def test_bus_has_at_least_four_pedestrians(detector, detector_settings):
    result = detector.predict([images.load_image_file(BUS, detector_settings)])[0]
    assert result.pedestrians >= 4
    assert {d.label for d in result.detections} <= {"pedestrian (upright)", "pedestrian (fallen)"}
    assert all(0 < d.confidence <= 1 and d.box[0] < d.box[2] and d.box[1] < d.box[3] for d in result.detections)
    assert result.model_id == "pds-yolov8s-fall" and result.device == "cpu"
    assert result.model_sha256 == "5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d"
    assert result.stats.width == 810 and result.stats.height == 1080 and result.latency_ms > 0


@pytest.mark.slow
def test_zidane_has_at_least_two_pedestrians_and_batching_matches(detector, detector_settings):
    frames = [images.load_image_file(p, detector_settings) for p in (ZIDANE, BUS)]
    batch = detector.predict(frames)
    assert batch[0].pedestrians >= 2 and batch[1].pedestrians >= 4
    assert batch[0].to_dict()["pedestrians"] == batch[0].pedestrians


def test_torch_model_is_exposed_for_the_attack_lab(detector, detector_settings):
    import torch

    from secmlops_core.detector.model import get_yolo

    assert isinstance(detector.torch_model, torch.nn.Module)
    assert get_yolo("pds-yolov8s-fall", detector_settings) is detector.yolo
    assert detector.pedestrian_class_ids() == [0, 1]


def test_image_stats_follow_the_image():
    from secmlops_core.detector.stats import image_stats

    flat = image_stats(np.full((480, 640, 3), 40, np.uint8))
    assert flat.brightness == pytest.approx(40, abs=1) and flat.contrast < 1 and flat.entropy < 0.1
    assert flat.sharpness < 1 and flat.colourfulness < 1
    noisy = image_stats(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    assert noisy.sharpness > 1000 and noisy.entropy > 6 and noisy.colourfulness > 10


# -- weights registry ---------------------------------------------------------------------

def _builtin_copy(tmp_path: Path) -> Path:
    target = tmp_path / "copy.pt"
    shutil.copyfile(weights.builtin_weights()[0].file_path(), target)
    return target


def test_builtin_entry_is_pinned_and_verified():
    entry = weights.builtin_weights()[0]
    assert entry.id == "pds-yolov8s-fall" and entry.builtin and entry.licence == "Apache-2.0"
    assert weights.verify_weights(entry) == entry.file_path()
    assert entry.label(1, "Fall") == "pedestrian (fallen)"


def test_modified_weights_are_refused(tmp_path, fresh_settings):
    path = _builtin_copy(tmp_path)
    weights.register_weights(path, "mine", settings=fresh_settings)
    with path.open("r+b") as handle:  # flip one byte in the middle of the pickle
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(UserFacingError, match="modified or replaced"):
        weights.resolve_weights(str(path), fresh_settings)
    entry = weights.resolve_weights("mine", fresh_settings)
    with pytest.raises(UserFacingError, match="modified or replaced"):
        weights.verify_weights(entry)
    with pytest.raises(UserFacingError, match="modified or replaced"):
        load_detector("mine", fresh_settings)


def test_unregistered_path_is_refused_until_registered(tmp_path, fresh_settings):
    path = _builtin_copy(tmp_path)
    with path.open("ab") as handle:
        handle.write(b"\0")  # a different file: same content is accepted as the built-in entry
    with pytest.raises(UserFacingError, match="not in the weights registry"):
        weights.resolve_weights(str(path), fresh_settings)
    entry = weights.register_weights(path, settings=fresh_settings)
    assert entry.id == "copy" and weights.resolve_weights(str(path), fresh_settings).sha256 == entry.sha256
    assert [e.id for e in weights.list_weights(fresh_settings)] == ["pds-yolov8s-fall", "copy"]


def test_registry_rejects_bad_ids_and_unknown_refs(tmp_path, fresh_settings):
    path = _builtin_copy(tmp_path)
    with pytest.raises(UserFacingError, match="built-in"):
        weights.register_weights(path, "pds-yolov8s-fall", settings=fresh_settings)
    with pytest.raises(UserFacingError, match="invalid weights id"):
        weights.register_weights(path, "../evil", settings=fresh_settings)
    with pytest.raises(UserFacingError, match="no weights with id"):
        weights.resolve_weights("nope", fresh_settings)


def test_a_non_checkpoint_is_refused_at_register(tmp_path, fresh_settings):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserFacingError, match="not a zip-format torch checkpoint"):
        weights.register_weights(junk, "junk", settings=fresh_settings)
    assert [e.id for e in weights.list_weights(fresh_settings)] == ["pds-yolov8s-fall"]


@pytest.mark.slow
def test_coco_style_checkpoint_counts_person(tmp_path, detector, fresh_settings):
    """A checkpoint with COCO class names: class 'person' counts as pedestrian once registered."""
    import torch

    model = copy.deepcopy(detector.torch_model)
    model.names = {0: "person", 1: "bicycle"}
    path = tmp_path / "coco-like.pt"
    torch.save({"model": model}, path)
    with pytest.raises(UserFacingError, match="not in the weights registry"):
        load_detector(str(path), fresh_settings)
    weights.register_weights(path, "coco-like", settings=fresh_settings)
    coco = load_detector(str(path), fresh_settings)
    result = coco.predict([images.load_image_file(BUS, fresh_settings)])[0]
    assert coco.pedestrian_class_ids() == [0]
    assert result.pedestrians >= 4 and {d.label for d in result.detections if d.is_pedestrian} == {"person"}


# -- bad images ---------------------------------------------------------------------------

def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG of width x height grey pixels, streamed (never held in memory decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\0" + b"\0" * width
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_hundred_megapixel_image_is_refused(tmp_path, fresh_settings):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(10_000, 10_000))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UserFacingError, match=r"100\.0 megapixels"):
        images.load_image_file(path, fresh_settings)


@pytest.mark.parametrize("case, content, message", [
    ("zero-byte", b"", "empty"),
    ("not-an-image", b"%PDF-1.4 this is a pdf renamed to jpg", "not an image"),
])
def test_bad_files_are_refused(tmp_path, fresh_settings, case, content, message):
    path = tmp_path / f"{case}.jpg"
    path.write_bytes(content)
    with pytest.raises(UserFacingError, match=message):
        images.load_image_file(path, fresh_settings)


def test_truncated_and_corrupt_jpeg_are_refused(tmp_path, fresh_settings):
    data = BUS.read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserFacingError, match="corrupt or truncated"):
        images.load_image_file(truncated, fresh_settings)
    corrupt = bytearray(data)
    corrupt[20:4000] = b"\xff" * 3980
    with pytest.raises(UserFacingError):
        images.decode_image_bytes(bytes(corrupt), "corrupt.jpg", fresh_settings)


def test_file_size_limit(fresh_settings):
    small = load_settings({"SECMLOPS_HOME": str(fresh_settings.home), "SECMLOPS_MAX_IMAGE_FILE_MB": "0.05"})
    with pytest.raises(UserFacingError, match="larger than the allowed"):
        images.load_image_file(BUS, small)


def test_png_and_exif_orientation_decode(fresh_settings):
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (255, 0, 0)).save(buffer, format="PNG")
    frame = images.decode_image_bytes(buffer.getvalue(), "red.png", fresh_settings)
    assert frame.shape == (20, 30, 3) and tuple(frame[0, 0]) == (0, 0, 255)  # BGR


# -- CLI ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_detect_json_and_bad_input(secmlops_home, tmp_path, capsys):
    import json

    from secmlops_core.cli import main

    assert main(["detect", str(ZIDANE), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload[0]["pedestrians"] >= 2 and payload[0]["model_id"] == "pds-yolov8s-fall"
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert main(["detect", str(empty)]) == 2
    assert "empty (0 bytes)" in capsys.readouterr().err
    assert main(["weights", "verify"]) == 0
