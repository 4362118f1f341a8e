"""The dependency audit's allowlist: entries are well formed and an alias covers its advisory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("dependency_audit", ROOT / "scripts" / "dependency_audit.py")
dependency_audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dependency_audit)


def test_shipped_allowlist_loads_and_names_pinned_packages():
    accepted = dependency_audit.load_allowlist()
    pinned = {line.split("==")[0].strip().lower() for line in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.lstrip().startswith("#")}
    assert accepted, "the shipped allowlist has entries"
    for entry in accepted.values():
        assert entry["package"].lower() in pinned, f"{entry['id']} names a package that is not pinned"


def test_an_alias_covers_the_advisory_reported_under_another_id():
    accepted = {"CVE-2023-48022": {"aliases": ["GHSA-6wgj-66m2-xxp2"]}}
    ids = dependency_audit.accepted_ids(accepted)
    assert {"CVE-2023-48022", "GHSA-6wgj-66m2-xxp2"} <= ids
    assert not ids & {"PYSEC-2099-1"}
