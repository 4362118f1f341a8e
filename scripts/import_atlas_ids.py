"""Generate the MITRE ATLAS technique ids and names that threat rules may cite.

The catalog checks every ``atlas:`` id of a rule against the ``atlas_techniques:`` block at
the end of ``secmlops_core/catalog/references.yaml``. This script builds that block from
MITRE's ``ATLAS.yaml`` (by default ``../shared/reference/atlas/ATLAS.yaml`` next to the
checkout) and prints it, or with ``--write`` replaces the block in references.yaml.

    python scripts/import_atlas_ids.py [ATLAS.yaml] [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ATLAS = ROOT.parent / "shared" / "reference" / "atlas" / "ATLAS.yaml"
REFERENCES = ROOT / "secmlops_core" / "catalog" / "references.yaml"
BLOCK_KEY = "atlas_techniques:"


def atlas_ids_yaml(atlas_yaml: Path | str) -> str:
    """The ``atlas_techniques:`` entries for references.yaml, generated from MITRE's ATLAS.yaml."""
    data = yaml.load(Path(atlas_yaml).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    lines = []
    for technique in data["matrices"][0]["techniques"]:
        name = technique["name"].replace('"', '\\"')
        lines.append(f'  {technique["id"]}: "{name}"')
    return "\n".join(lines) + "\n"


def with_atlas_block(references_text: str, entries: str) -> str:
    """references.yaml text with everything after its ``atlas_techniques:`` line replaced by entries."""
    lines = references_text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.rstrip() == BLOCK_KEY:
            return "".join(lines[:index + 1]) + entries
    raise ValueError(f"{REFERENCES.name} has no '{BLOCK_KEY}' line")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("atlas_yaml", nargs="?", type=Path, default=DEFAULT_ATLAS,
                        help=f"MITRE's ATLAS.yaml (default: {DEFAULT_ATLAS})")
    parser.add_argument("--write", action="store_true",
                        help=f"replace the {BLOCK_KEY} block of {REFERENCES.relative_to(ROOT)} instead of printing it")
    args = parser.parse_args(argv)
    if not args.atlas_yaml.is_file():
        print(f"{args.atlas_yaml}: no such file", file=sys.stderr)
        return 2
    entries = atlas_ids_yaml(args.atlas_yaml)
    if not args.write:
        sys.stdout.write(entries)
        return 0
    REFERENCES.write_text(with_atlas_block(REFERENCES.read_text(encoding="utf-8"), entries), encoding="utf-8")
    print(f"{REFERENCES.relative_to(ROOT)}: {entries.count(chr(10))} ATLAS techniques written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
