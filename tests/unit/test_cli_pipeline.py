import json

import pytest

from secmlops_core.cli import main
from secmlops_core.pipeline.library import TEMPLATES_DIR, load_template

PDS = str(TEMPLATES_DIR / "pds.yaml")


def test_validate_ok(capsys, secmlops_home):
    assert main(["pipeline", "validate", PDS]) == 0
    assert "valid (18 stages, 20 flows, 3 zones)" in capsys.readouterr().out


def test_validate_reports_each_problem_and_exits_2(tmp_path, capsys, secmlops_home):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nid: p\nname: P\nstages:\n- {id: a, name: A, kind: nope}\n"
                   "flows:\n- {id: f, source: a, target: ghost}\n")
    assert main(["pipeline", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: stage 'a': unknown kind 'nope'" in err
    assert "bad.yaml: flow 'f': target 'ghost' is not a stage (dangling flow)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("content", ["{{{", "a: &x 1\nb: *x\n", ""])
def test_validate_never_prints_a_traceback(tmp_path, capsys, content, secmlops_home):
    path = tmp_path / "p.yaml"
    path.write_text(content)
    assert main(["pipeline", "validate", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_missing_file_and_wrong_type(tmp_path, capsys, secmlops_home):
    assert main(["pipeline", "validate", str(tmp_path / "none.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["pipeline", "validate", str(tmp_path / "x.csv")]) == 2


def test_convert_round_trip_through_threat_dragon(tmp_path, secmlops_home):
    td = tmp_path / "pds.td.json"
    back = tmp_path / "pds.yaml"
    assert main(["pipeline", "convert", PDS, "-o", str(td)]) == 0
    assert json.loads(td.read_text())["detail"]["diagrams"][0]["diagramType"] == "STRIDE"
    assert main(["pipeline", "validate", str(td)]) == 0
    assert main(["pipeline", "convert", str(td), "-o", str(back)]) == 0
    from secmlops_core.pipeline.formats import load_pipeline

    assert load_pipeline(back) == load_template("pds")


def test_convert_to_project_json_with_explicit_target(tmp_path, secmlops_home):
    out = tmp_path / "out.json"
    assert main(["pipeline", "convert", PDS, "-o", str(out), "--to", "json"]) == 0
    assert json.loads(out.read_text())["format"] == "secmlops-pipeline"
