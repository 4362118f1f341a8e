"""Threat reports: JSON against its schema, SARIF against a SARIF 2.1.0 schema, escaping in
HTML / Markdown / CSV, and the inline pictures."""

import copy
import csv
import io
import json

import jsonschema
import pytest

from secmlops_core.reports.render import FORMATS, file_name, render
from secmlops_core.reports.sarif import element_lines, sarif_log
from secmlops_core.reports.svg import heatmap_svg
from secmlops_core.reports.text_formats import csv_cell, md_text
from secmlops_core.reports.threat_report import report_document, report_schema
from secmlops_core.threats.assessment import assess
from tests.conftest import REPO_ROOT

SARIF_SCHEMA = REPO_ROOT / "tests" / "golden" / "sarif-2.1.0-subset.schema.json"
HOSTILE = '<script>alert("x")</script> | =HYPERLINK("http://evil") [link](javascript:x) *bold*'


@pytest.fixture(scope="module")
def pds_assessment():
    from secmlops_core.pipeline.library import load_template

    return assess(load_template("pds"))


@pytest.fixture(scope="module")
def hostile_assessment():
    from secmlops_core.pipeline.library import load_template

    pipeline = load_template("pds")
    pipeline.name = HOSTILE
    pipeline.stage("detector").name = HOSTILE
    pipeline.flows[0].name = HOSTILE
    return assess(pipeline)


def test_json_report_matches_its_schema(pds_assessment):
    document = report_document(pds_assessment)
    jsonschema.Draft202012Validator.check_schema(report_schema())
    jsonschema.Draft202012Validator(report_schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["summary"]["threats"] == len(document["threats"]) == 111
    assert sum(map(sum, document["summary"]["heatmap"]["counts"])) == document["summary"]["open"]
    first = document["threats"][0]
    assert first["references"]["atlas"][0]["name"]
    assert first["controls"][0]["ptpgc"] in ("people", "technology", "processes", "governance", "compliance")


def test_json_schema_rejects_a_broken_document(pds_assessment):
    document = copy.deepcopy(report_document(pds_assessment))
    document["threats"][0]["inherent"]["band"] = "apocalyptic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, report_schema())


def test_sarif_is_valid_and_has_one_result_per_open_threat(pds_assessment):
    source = (REPO_ROOT / "data" / "templates" / "pds.yaml").read_text(encoding="utf-8")
    log = json.loads(render(pds_assessment, "sarif", "data/templates/pds.yaml", source))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert len(run["results"]) == len(pds_assessment.open_threats())
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["partialFingerprints"]["secmlopsThreatId/v1"].startswith("TH-")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    lines = source.splitlines()
    crowd = next(r for r in run["results"] if r["locations"][0]["logicalLocations"][0]["name"] == "crowd_labeling")
    assert "crowd_labeling" in lines[crowd["locations"][0]["physicalLocation"]["region"]["startLine"] - 1]


def test_sarif_leaves_out_closed_threats(pds_assessment):
    closed = copy.copy(pds_assessment)
    object.__setattr__(closed, "threats", tuple(
        t if i else type(t)(**{**t.__dict__, "status": "mitigated"}) for i, t in enumerate(pds_assessment.threats)))
    log = sarif_log(closed)
    assert len(log["runs"][0]["results"]) == len(pds_assessment.threats) - 1


def test_sarif_rejected_by_schema_when_structure_is_wrong(pds_assessment):
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    log = sarif_log(pds_assessment)
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(log, schema)
    del log["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(log, schema)


def test_element_lines():
    assert element_lines("stages:\n- id: a\n  name: A\n- id: 'b'\n") == {"a": 2, "b": 4}
    assert element_lines(None) == {}


def test_html_is_self_contained_and_escapes_everything(hostile_assessment):
    html = render(hostile_assessment, "html")
    assert "<script" not in html.lower() and "javascript:" not in html.lower().replace("javascript:x", "")
    assert "&lt;script&gt;" in html
    assert "<svg" in html and "Risk heat map" in html
    # nothing is loaded from elsewhere: no scripts, sources, stylesheets or remote links
    assert "src=" not in html and "<link" not in html and "url(http" not in html and 'href="http' not in html
    assert "default-src 'none'" in html


def test_markdown_escapes_user_text(hostile_assessment):
    text = render(hostile_assessment, "md")
    assert "<script>" not in text and "[link](javascript:x)" not in text
    for line in text.splitlines():
        if line.startswith("| 1 |"):
            assert line.count(" | ") == 5  # a pipe in a name does not add a column
    assert md_text("a|b<c>") == "a\\|b\\<c\\>"


def test_csv_neutralises_formulas(hostile_assessment):
    rows = list(csv.DictReader(io.StringIO(render(hostile_assessment, "csv"))))
    assert len(rows) == len(hostile_assessment.threats)
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("plain") == "plain"
    assert all(not value.startswith(("=", "+", "@")) for row in rows for value in row.values())


def test_every_format_renders_and_has_a_file_name(pds_assessment):
    for fmt, spec in FORMATS.items():
        assert render(pds_assessment, fmt).strip()
        assert file_name(pds_assessment, fmt) == f"pds-threats.{spec.extension}"


def test_heatmap_svg_counts():
    grid = [[0] * 5 for _ in range(5)]
    grid[0][4] = 7
    svg = heatmap_svg(grid)
    assert ">7</text>" in svg and svg.count("<rect") == 25


def test_graph_picture_is_omitted_for_huge_pipelines(pds_assessment):
    from secmlops_core.reports.svg import MAX_GRAPH_STAGES, graph_svg
    from secmlops_core.pipeline.model import Stage

    big = copy.deepcopy(pds_assessment.pipeline)
    big.stages += [Stage(id=f"x{i}", name="x", kind="training") for i in range(MAX_GRAPH_STAGES)]
    huge = copy.copy(pds_assessment)
    object.__setattr__(huge, "pipeline", big)
    assert "omitted" in graph_svg(huge)
