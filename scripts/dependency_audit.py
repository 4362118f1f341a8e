"""Audit the pinned runtime dependencies with pip-audit against a reviewed allowlist.

Exit 0 when no unreviewed advisory is found, 1 when one is (or an allowlist entry is past
its review date), 2 on a broken allowlist. When the advisory service cannot be reached
(an offline machine), the audit says so plainly and does not pretend to have passed.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "security" / "dependency-audit-allowlist.yaml"
REQUIRED_FIELDS = {"id", "package", "reason", "reviewed_by", "review_by"}  # optional: aliases


def load_allowlist() -> dict[str, dict]:
    """Accepted advisories by id; exits 2 with a message when the file is malformed."""
    data = yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8")) or {}
    accepted = {}
    for index, entry in enumerate(data.get("accepted") or [], start=1):
        missing = REQUIRED_FIELDS - set(entry or {})
        if missing:
            print(f"{ALLOWLIST.name}: entry {index} lacks {', '.join(sorted(missing))}", file=sys.stderr)
            sys.exit(2)
        accepted[str(entry["id"])] = entry
    return accepted


def accepted_ids(accepted: dict[str, dict]) -> set[str]:
    """Every id an accepted entry covers: its own and its aliases (a CVE is also a GHSA and a PYSEC id)."""
    return {str(i) for key, entry in accepted.items() for i in (key, *(entry.get("aliases") or []))}


def main() -> int:
    accepted = load_allowlist()
    today = dt.date.today()
    stale = [e for e in accepted.values() if dt.date.fromisoformat(str(e["review_by"])) < today]
    for entry in stale:
        print(f"allowlist entry {entry['id']} ({entry['package']}) was due for review on {entry['review_by']}")
    result = subprocess.run(
        [sys.executable, "-m", "pip_audit", "-r", str(ROOT / "requirements.txt"), "--no-deps", "--disable-pip",
         "--format", "json", "--progress-spinner", "off"],
        capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        print("dependency audit could not run:", (result.stderr or "no output").strip().splitlines()[-1:])
        return 1
    dependencies = report.get("dependencies", [])
    unaudited = [d["name"] for d in dependencies if d.get("skip_reason")]
    findings = [(d["name"], d["version"], v["id"], {v["id"], *v.get("aliases", [])})
                for d in dependencies for v in d.get("vulns", [])]
    unreviewed = [f[:3] for f in findings if not accepted_ids(accepted) & f[3]]
    audited = len(dependencies) - len(unaudited)
    print(f"dependency audit: {audited} of {len(dependencies)} pinned packages checked, "
          f"{len(findings)} advisories, {len(unreviewed)} not in the reviewed allowlist")
    if unaudited and audited == 0:
        print("the advisory service was not reachable from this machine: nothing was audited "
              "(run `make audit` where PyPI's advisory data can be reached)")
    for name, version, advisory in unreviewed:
        print(f"  {name}=={version}: {advisory}")
    return 1 if (unreviewed or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
