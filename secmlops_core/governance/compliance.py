"""Governance and compliance: controls mapped to framework requirements (shipped as data,
editable and stored), coverage and gaps per framework.

Coverage of a requirement = share of its mapped controls that are implemented (or marked
not applicable) for the pipeline. A requirement is ``covered`` at 100 %, ``partial`` above
0 %, a ``gap`` at 0 %, and ``unmapped`` when no control is mapped to it (counted as 0 %).
A framework's coverage is the mean over its requirements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import yaml

from secmlops_core.catalog.loading import load_controls
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.governance.definitions import Framework, Requirement, load_frameworks
from secmlops_core.governance.history import editor, record_change
from secmlops_core.store import Store

DONE = ("implemented", "not_applicable")
MAX_IMPORT_BYTES = 256 * 1024


@dataclass(frozen=True)
class RequirementCoverage:
    """How far one requirement is covered by implemented controls."""

    requirement: Requirement
    implemented: tuple[str, ...]
    missing: tuple[str, ...]
    share: float
    status: str  # covered | partial | gap | unmapped
    edited: bool = False


@dataclass(frozen=True)
class FrameworkCoverage:
    """Coverage of one framework for one pipeline."""

    framework: Framework
    requirements: tuple[RequirementCoverage, ...]

    @property
    def coverage(self) -> float:
        """Mean requirement coverage, 0..1."""
        return sum(r.share for r in self.requirements) / len(self.requirements) if self.requirements else 0.0

    def counts(self) -> dict[str, int]:
        """Requirements per status."""
        return {s: sum(1 for r in self.requirements if r.status == s) for s in ("covered", "partial", "gap", "unmapped")}

    def gaps(self) -> list[RequirementCoverage]:
        """Requirements not fully covered, least covered first."""
        return sorted((r for r in self.requirements if r.status != "covered"), key=lambda r: r.share)


def _stored(store: Store) -> dict[tuple[str, str], list[str]]:
    with store.connect() as conn:
        rows = conn.execute("SELECT framework_id, requirement_id, controls FROM governance_mappings").fetchall()
    return {(f, r): json.loads(c) for f, r, c in rows}


def frameworks(store: Store) -> dict[str, tuple[Framework, frozenset]]:
    """Frameworks with stored mapping edits applied, and the ids of edited requirements."""
    stored = _stored(store)
    out = {}
    for framework_id, framework in load_frameworks().items():
        requirements, edited = [], set()
        for requirement in framework.requirements:
            key = (framework_id, requirement.id)
            if key in stored:
                requirement = replace(requirement, controls=tuple(stored[key]))
                edited.add(requirement.id)
            requirements.append(requirement)
        out[framework_id] = (replace(framework, requirements=tuple(requirements)), frozenset(edited))
    return out


def validate_mappings(mappings: dict, source: str = "mapping") -> dict[tuple[str, str], list[str]]:
    """Check ``{framework_id: {requirement_id: [control ids]}}`` against the catalogs."""
    known, controls = load_frameworks(), load_controls()
    problems, clean = [], {}
    if not isinstance(mappings, dict):
        raise UserFacingError(f"{source} must map framework ids to requirements")
    for framework_id, block in mappings.items():
        if framework_id not in known:
            problems.append(f"{source}: unknown framework {framework_id!r} (known: {', '.join(known)})")
            continue
        if not isinstance(block, dict):
            problems.append(f"{source}: {framework_id} must map requirement ids to control lists")
            continue
        ids = {r.id for r in known[framework_id].requirements}
        for requirement_id, control_ids in block.items():
            where = f"{source}: {framework_id} {requirement_id}"
            if str(requirement_id) not in ids:
                problems.append(f"{where}: unknown requirement")
                continue
            if not isinstance(control_ids, list):
                problems.append(f"{where}: give a list of control ids")
                continue
            unknown = [str(c) for c in control_ids if c not in controls]
            if unknown:
                problems.append(f"{where}: unknown control(s) {', '.join(unknown)}")
                continue
            clean[(framework_id, str(requirement_id))] = list(dict.fromkeys(control_ids))
    if problems:
        raise ValidationFailed(problems, source)
    return clean


def set_mappings(store: Store, mappings: dict, source: str = "mapping") -> int:
    """Replace the control lists of requirements (validated as a whole); returns the number changed."""
    principal = editor()
    clean = validate_mappings(mappings, source)
    current = frameworks(store)
    changed = 0
    with store.connect() as conn:
        for (framework_id, requirement_id), control_ids in clean.items():
            before = list(current[framework_id][0].requirement(requirement_id).controls)
            if before == control_ids:
                continue
            conn.execute("INSERT INTO governance_mappings (framework_id, requirement_id, controls, updated_by)"
                         " VALUES (?, ?, ?, ?) ON CONFLICT (framework_id, requirement_id) DO UPDATE SET"
                         " controls = excluded.controls, updated_at = now(), updated_by = excluded.updated_by",
                         [framework_id, requirement_id, json.dumps(control_ids), principal.label])
            record_change(conn, principal, None, "mapping", f"{framework_id}:{requirement_id}", before, control_ids)
            changed += 1
    return changed


def import_mappings(store: Store, text: str) -> int:
    """Apply a YAML/JSON mapping document ``{framework_id: {requirement_id: [controls]}}``."""
    editor()
    if len(text.encode("utf-8", errors="replace")) > MAX_IMPORT_BYTES:
        raise UserFacingError(f"the mapping file is larger than {MAX_IMPORT_BYTES // 1024} KiB")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserFacingError(f"the mapping file is not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
    return set_mappings(store, document, "mapping import")


def requirement_coverage(requirement: Requirement, statuses: dict[str, str], edited: bool = False) -> RequirementCoverage:
    """Coverage of one requirement given ``{control_id: status}``."""
    done = tuple(c for c in requirement.controls if statuses.get(c, "not_started") in DONE)
    missing = tuple(c for c in requirement.controls if c not in done)
    if not requirement.controls:
        return RequirementCoverage(requirement, (), (), 0.0, "unmapped", edited)
    share = len(done) / len(requirement.controls)
    status = "covered" if share == 1 else "partial" if share > 0 else "gap"
    return RequirementCoverage(requirement, done, missing, share, status, edited)


def coverage(store: Store, statuses: dict[str, str]) -> dict[str, FrameworkCoverage]:
    """Coverage of every framework for a pipeline's control statuses."""
    return {framework_id: FrameworkCoverage(framework, tuple(
                requirement_coverage(r, statuses, r.id in edited) for r in framework.requirements))
            for framework_id, (framework, edited) in frameworks(store).items()}
