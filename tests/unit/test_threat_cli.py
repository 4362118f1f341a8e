"""`secmlops threats`: report formats, output file, the --fail-on gate and exit codes."""

import json

import pytest

from secmlops_core.cli import main
from tests.conftest import REPO_ROOT

PDS = str(REPO_ROOT / "data" / "templates" / "pds.yaml")


@pytest.fixture(autouse=True)
def _home(secmlops_home):
    return secmlops_home


def test_default_markdown_to_stdout(capsys):
    assert main(["threats", PDS]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Threat model: Pedestrian detection system")
    assert "pds: 111 threats, 111 open" in err


@pytest.mark.parametrize("fmt", ["md", "html", "json", "csv", "sarif"])
def test_every_format_to_a_file(tmp_path, fmt):
    output = tmp_path / f"report.{fmt}"
    assert main(["threats", PDS, "--format", fmt, "-o", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert text.strip()
    if fmt in ("json", "sarif"):
        json.loads(text)


def test_gate_fails_with_exit_1_and_lists_threats(capsys):
    assert main(["threats", PDS, "--fail-on", "critical", "-o", "/dev/null"]) == 1
    err = capsys.readouterr().err
    assert "gate failed: 3 open threat(s) at or above critical" in err
    assert "SML-HUB-002" in err


def test_gate_passes_when_user_rules_disable_the_findings(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text("disable: [SML-FLW-003, SML-HUB-002, SML-TRN-003]\n", encoding="utf-8")
    assert main(["threats", PDS, "--fail-on", "critical", "--rules", str(rules), "-o", str(tmp_path / "r.md")]) == 0
    assert "gate passed" in capsys.readouterr().err


def test_assumptions_in_user_rules_suppress(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text("assumptions:\n  - id: A1\n    statement: Hub weights are converted to safetensors offline.\n"
                     "    rules: [SML-HUB-002, SML-TRN-003, SML-FLW-003]\n", encoding="utf-8")
    assert main(["threats", PDS, "--fail-on", "critical", "--rules", str(rules), "-f", "json",
                 "-o", str(tmp_path / "r.json")]) == 0
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {s["rule_id"] for s in document["suppressed"]} == {"SML-HUB-002", "SML-TRN-003", "SML-FLW-003"}


@pytest.mark.parametrize("argv, message", [
    (["threats", "/no/such/file.yaml"], "no such file"),
    (["threats", PDS, "--rules", "/no/such/rules.yaml"], "no such rule file"),
])
def test_missing_files_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_invalid_pipeline_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: secmlops-pipeline\nversion: 1\nid: x\nname: x\nstages:\n- {id: a, name: a, kind: toaster}\n",
                   encoding="utf-8")
    assert main(["threats", str(bad)]) == 2
    assert "unknown kind 'toaster'" in capsys.readouterr().err


def test_invalid_user_rules_exit_2_with_file_rule_and_field(tmp_path, capsys):
    rules = tmp_path / "org.yaml"
    rules.write_text("rules:\n  - id: ORG-1\n    title: t\n    stride: T\n    applies_to: stage\n"
                     "    lifecycle: monitoring\n    match: {property: colour, equals: red}\n    description: d\n"
                     "    nist: {objective: integrity}\n    likelihood: 1\n    impact: 1\n    controls: [CTL-AUDIT-LOG]\n",
                     encoding="utf-8")
    assert main(["threats", PDS, "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "org.yaml: rule 'ORG-1'.match.property: unknown stage property 'colour'" in err


def test_bad_band_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["threats", PDS, "--fail-on", "severe"])
    assert caught.value.code == 2


def test_with_register_applies_stored_decisions(tmp_path, secmlops_home, capsys):
    from secmlops_core.pipeline.library import load_template
    from secmlops_core.settings import get_settings
    from secmlops_core.store import get_store
    from secmlops_core.threats import register as reg
    from secmlops_core.threats.assessment import assess_stored

    store = get_store(get_settings().store_path)
    assessment, _ = assess_stored(store, load_template("pds"))
    reg.update_entries(store, "pds", {t.id: {"status": "mitigated"} for t in assessment.gate_failures("critical")})
    assert main(["threats", PDS, "--fail-on", "critical", "-o", str(tmp_path / "r.md")]) == 1
    assert main(["threats", PDS, "--fail-on", "critical", "--with-register", "-o", str(tmp_path / "r.md")]) == 0
