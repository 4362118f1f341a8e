"""Hostile and malformed pipeline files: a clear message every time, never a crash, nothing stored."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.pipeline import library
from secmlops_core.pipeline.formats import dumps_pipeline, load_pipeline, loads_pipeline

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30)

pipeline_like = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 2, "1", None]), "id": st.text(max_size=12), "name": st.text(max_size=12)},
    optional={"stages": st.lists(st.dictionaries(st.sampled_from(["id", "name", "kind", "zone", "properties", "x"]),
                                                 json_values, max_size=5), max_size=5),
              "flows": st.lists(st.dictionaries(st.sampled_from(["id", "source", "target", "properties"]),
                                                json_values, max_size=4), max_size=5),
              "zones": json_values})


def _load_or_reject(data, fmt):
    try:
        loads_pipeline(data, fmt, "upload")
    except ValidationFailed as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert str(exc).startswith("upload is invalid")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    for fmt in ("yaml", "json"):
        _load_or_reject(data, fmt)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_arbitrary_json_documents_never_crash(value):
    _load_or_reject(json.dumps(value), "json")


@settings(max_examples=200, deadline=None)
@given(pipeline_like)
def test_pipeline_shaped_documents_never_crash(document):
    _load_or_reject(json.dumps(document), "json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=pipeline_like)
def test_nothing_is_stored_unless_valid(store, data):
    from secmlops_core.pipeline.validate import parse_pipeline

    before = len(library.list_pipelines(store))
    try:
        pipeline = parse_pipeline(data)
    except ValidationFailed:
        assert len(library.list_pipelines(store)) == before
        return
    library.save_version(store, pipeline, "valid")
    assert len(library.list_pipelines(store)) >= 1


def test_billion_laughs_is_refused_quickly():
    bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
    with pytest.raises(ValidationFailed, match="anchors are not allowed"):
        loads_pipeline(bomb, "yaml")


def test_alias_without_anchor_in_flow_is_refused():
    with pytest.raises(ValidationFailed, match="invalid YAML"):
        loads_pipeline("version: 1\nname: *ref\n", "yaml")


def test_python_tags_are_not_constructed():
    with pytest.raises(ValidationFailed, match="invalid YAML"):
        loads_pipeline("version: 1\nname: !!python/object/apply:os.system ['echo pwned']\n", "yaml")


def test_oversized_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (50 * 1024 * 1024))
    with pytest.raises(ValidationFailed, match="the limit is 5.2 MB"):
        load_pipeline(big)


def test_ten_thousand_stages_are_refused_with_the_limit(pds_pipeline):
    document = json.loads(dumps_pipeline(pds_pipeline, "json"))
    document["stages"] = [{"id": f"s{i}", "name": "s", "kind": "training"} for i in range(10_000)]
    document["flows"] = []
    with pytest.raises(ValidationFailed, match="the limit is 5,000"):
        loads_pipeline(json.dumps(document), "json", max_bytes=50 * 1024 * 1024)


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b"[1, 2", "invalid JSON at line 1"),
    (b"{\"version\": 1}", "'name' is missing"),
    (b"[]", "mapping at the top level"),
])
def test_malformed_json_messages(content, message):
    with pytest.raises(ValidationFailed, match=message):
        loads_pipeline(content, "json")


def test_wrong_extension_and_missing_file(tmp_path):
    with pytest.raises(UserFacingError, match="unsupported file type .txt"):
        load_pipeline(tmp_path / "p.txt")
    with pytest.raises(UserFacingError, match="no such file"):
        load_pipeline(tmp_path / "missing.yaml")
