"""The audit pack's contents and the `secmlops gates` / `secmlops audit-pack` commands."""

from __future__ import annotations

import json
import re

import pytest

from secmlops_core.cli import main
from secmlops_core.detector.weights import sha256_file
from secmlops_core.evidence import add_evidence
from secmlops_core.governance import people, provenance, technology
from secmlops_core.reports.audit_pack import write_pack
from secmlops_core.governance.workspace import build
from secmlops_core.pipeline import library
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import assess_stored
from tests.conftest import REPO_ROOT

PDS_FILE = str(REPO_ROOT / "data" / "templates" / "pds.yaml")


@pytest.fixture()
def pds(store, pds_pipeline):
    library.save_version(store, pds_pipeline, "template")
    assess_stored(store, pds_pipeline)
    return pds_pipeline


def test_audit_pack_contents_links_escaping_and_manifest(store, pds, tmp_path):
    evaluation = add_evidence(store, "robustness_evaluation", "eval:1", "PGD recall 0.7", pipeline_id="pds",
                              outcome="pass")
    provenance.approve_weights(store, "pds", note="first release")
    people.update_role(store, "red_team", name="<script>alert(1)</script> team", people=["Mallory [x](http://e)"])
    technology.set_control_status(store, "pds", {"CTL-ROBUSTNESS-EVAL": {"status": "implemented"}})
    out = tmp_path / "pack"
    files = write_pack(store, build(store, pds, served=[]), out)
    names = {p.relative_to(out).as_posix() for p in files}
    assert {"audit-pack.json", "audit-pack.md", "audit-pack.html", "manifest.json",
            f"evidence/{evaluation.evidence_id}.json"} <= names

    doc = json.loads((out / "audit-pack.json").read_text())
    assert doc["pipeline"] == {**doc["pipeline"], "id": "pds", "version": 1}
    assert [g["id"] for g in doc["processes"]["gates"]][0] == "design_review"
    robustness = next(g for g in doc["processes"]["gates"] if g["id"] == "pre_deployment_robustness")
    evaluation_row = next(c for c in robustness["criteria"] if c["id"] == "evaluation")
    assert (evaluation_row["status"], evaluation_row["evidence"]) == ("pass", [evaluation.evidence_id])
    assert {f["id"] for f in doc["compliance"]} == {"eu_ai_act", "iso_iec_42001", "nist_ai_rmf"}
    assert len(doc["maturity"]) == 5 and doc["audit_trail"]["intact"]
    assert doc["provenance"]["approvals"][0]["note"] == "first release"
    for item in doc["evidence"]:  # every evidence link resolves to its file
        record = json.loads((out / item["link"]).read_text())
        assert record["id"] == item["id"]

    markdown = (out / "audit-pack.md").read_text()
    for target in re.findall(r"\]\((evidence/[^)]+)\)", markdown):
        assert (out / target).is_file()
    assert f"(evidence/{evaluation.evidence_id}.json)" in markdown
    assert "[x](http://e)" not in markdown and "Mallory \\[x\\]" in markdown

    html = (out / "audit-pack.html").read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; team" in html
    assert "Content-Security-Policy" in html and "<svg" in html
    assert f'href="evidence/{evaluation.evidence_id}.json"' in html

    manifest = json.loads((out / "manifest.json").read_text())["sha256"]
    assert manifest and all(sha256_file(out / name) == digest for name, digest in manifest.items())


def test_gates_command_exit_codes_and_json(store, pds, capsys):
    assert main(["gates", PDS_FILE]) == 1
    out = capsys.readouterr()
    assert "NO EVIDENCE" in out.out and "gates not passed" in out.err
    assert main(["gates", PDS_FILE, "--json", "--gate", "pre_deployment_robustness"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["pipeline_version"] == 1 and [g["id"] for g in report["gates"]] == ["pre_deployment_robustness"]
    criteria = {c["id"]: c["status"] for c in report["gates"][0]["criteria"]}
    assert criteria["evaluation"] == criteria["red_team"] == "no_evidence" and report["passed"] is False
    assert main(["gates", PDS_FILE, "--gate", "launch"]) == 2
    assert "unknown gate(s) launch" in capsys.readouterr().err
    assert main(["gates", str(REPO_ROOT / "missing.yaml")]) == 2


def test_gates_command_passes_when_the_evidence_is_there(store, pds, capsys):
    ws = build(store, pds, served=[])
    critical = [t.id for t in ws.assessment.open_threats() if t.residual_risk.band == "critical"]
    reg.update_entries(store, "pds", {tid: {"status": "mitigated"} for tid in critical})
    technology.set_control_status(store, "pds", {"CTL-THREAT-MODEL-REVIEW": {"status": "implemented"}})
    assert main(["gates", PDS_FILE, "--gate", "design_review", "--record"]) == 0
    assert "PASS" in capsys.readouterr().out
    from secmlops_core.evidence import list_evidence

    recorded = list_evidence(store, pipeline_id="pds", kind="gate_result")
    assert [(e.metrics["id"], e.outcome) for e in recorded] == [("design_review", "pass")]


def test_audit_pack_command_writes_the_directory(store, pds, tmp_path, capsys):
    assert main(["audit-pack", PDS_FILE, "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "audit-pack.html").is_file() and (tmp_path / "out" / "manifest.json").is_file()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["audit-pack", PDS_FILE, "-o", str(blocker / "out")]) == 2
    assert "cannot create the audit pack directory" in capsys.readouterr().err
