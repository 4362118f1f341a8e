"""Golden file: the exact threat set of the PDS template, reviewed once and committed.

A change to the rules or the template shows up as a diff of tests/golden/pds_threats.json.
After reviewing the change, regenerate the file with:

    SECMLOPS_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_threat_golden.py
"""

import json
import os

from secmlops_core.catalog.loading import load_catalog
from secmlops_core.threats.assessment import assess
from tests.conftest import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "golden" / "pds_threats.json"


def threat_set(pipeline) -> dict:
    assessment = assess(pipeline, load_catalog())
    return {
        "pipeline": pipeline.id,
        "threats": [{"id": t.id, "rule": t.threat.rule.id, "element": f"{t.threat.element_type}:{t.threat.element_id}",
                     "stride": t.threat.rule.stride, "likelihood": t.threat.risk.likelihood,
                     "impact": t.threat.risk.impact, "band": t.threat.risk.band, "because": list(t.threat.because)}
                    for t in assessment.threats],
        "attack_paths": [{"path": " > ".join(p.stages), "score": p.score, "band": p.band} for p in assessment.paths],
    }


def test_pds_threat_set_matches_golden_file(pds_pipeline):
    current = threat_set(pds_pipeline)
    text = json.dumps(current, indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("SECMLOPS_REGENERATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert current["pipeline"] == expected["pipeline"]
    current_ids = {t["id"]: t for t in current["threats"]}
    expected_ids = {t["id"]: t for t in expected["threats"]}
    assert sorted(set(current_ids) - set(expected_ids)) == [], "new threats; review and regenerate (see docstring)"
    assert sorted(set(expected_ids) - set(current_ids)) == [], "vanished threats; review and regenerate"
    assert current == expected
