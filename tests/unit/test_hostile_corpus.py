"""A corpus of hostile inputs across the product: each gets a clear error and changes nothing."""

import io
import pickle
import zlib

import pytest
from PIL import Image

from secmlops_core.access import audit
from secmlops_core.detector import images
from secmlops_core.detector.weights import resolve_weights
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.evidence import add_evidence, list_evidence
from secmlops_core.pipeline import library
from secmlops_core.pipeline.importing import read_any_pipeline_bytes
from secmlops_core.settings import load_settings

SQL_LIKE = ["'; DROP TABLE pipelines; --", "\" OR 1=1 --", "x') UNION SELECT * FROM users --", "%' OR '%'='"]
MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "{{7*7}}"]


class _RunsCodeOnLoad:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/secmlops-pwned-by-pickle",))


def test_a_checkpoint_that_runs_code_is_refused_unopened(tmp_path):
    settings = load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})
    evil = tmp_path / "best.pt"
    evil.write_bytes(pickle.dumps(_RunsCodeOnLoad()))
    marker = "/tmp/secmlops-pwned-by-pickle"
    import os

    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(UserFacingError, match="not in the weights registry"):
        resolve_weights(str(evil), settings)
    assert not os.path.exists(marker), "the pickle must never be unpickled"


def _png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    settings = load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})
    bomb = _png_header_claiming(60_000, 60_000)  # 3.6 gigapixels declared in a few bytes
    assert len(bomb) < 200
    with pytest.raises(UserFacingError, match="decompression bomb|megapixel"):
        images.decode_image_bytes(bomb, "bomb.png", settings)


def test_polyglot_image_with_markup_payload_decodes_only_as_pixels(tmp_path):
    settings = load_settings({"SECMLOPS_HOME": str(tmp_path / "home")})
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 20, 30)).save(buffer, "JPEG")
    polyglot = buffer.getvalue() + b"<html><script>alert(1)</script></html>PK\x03\x04"
    frame = images.decode_image_bytes(polyglot, "polyglot.jpg", settings)
    assert frame.shape == (24, 32, 3)


def test_a_json_pipeline_claiming_to_be_yaml_and_vice_versa():
    with pytest.raises(ValidationFailed):
        read_any_pipeline_bytes(b"format: secmlops-pipeline\nversion: 1\n", "p.json")
    with pytest.raises(ValidationFailed):
        read_any_pipeline_bytes(b"\x00\x01binary\xff", "p.yaml")


@pytest.mark.parametrize("text", SQL_LIKE + MARKUP)
def test_hostile_text_in_names_and_filters_is_data(store, pds_pipeline, text):
    pds_pipeline.name = text
    pds_pipeline.stages[0].name = text
    library.save_version(store, pds_pipeline, text[:120])
    again = library.latest(store, "pds")
    assert again.name == text and again.stages[0].name == text
    assert library.list_versions(store, "pds")[0].label == text[:120]
    add_evidence(store, "incident", text, text, pipeline_id="pds")
    assert list_evidence(store, pipeline_id=text) == []
    assert list_evidence(store, pipeline_id="pds")[0].summary == text
    assert audit.entries(store, action=text) == [] and audit.entries(store, actor=text) == []
    assert audit.verify_chain(store).ok
    with store.connect() as conn:  # the tables are all still there
        assert conn.execute("SELECT count(*) FROM pipelines").fetchone()[0] == 1
