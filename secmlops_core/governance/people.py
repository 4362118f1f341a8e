"""People: role profiles (display names, responsibilities, people), the RACI per lifecycle
stage and per control, and accountability gaps.

Accountability: a threat's accountable role is the accountable role of its lifecycle
stage's RACI row (the register's owner role is the responsible one); an active incident's
is its own owner role when that is a known role, else the monitoring stage's accountable role.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime

import yaml

from secmlops_core.catalog.loading import load_controls, load_roles
from secmlops_core.catalog.vocabulary import stage_kinds
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.governance.definitions import check_cells, default_raci, lifecycle_stages
from secmlops_core.governance.history import editor, record_change
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper
from secmlops_core.threats.risk import band_at_least

MAX_NAME_CHARS = 120
MAX_RESPONSIBILITY_CHARS = 1000
MAX_PEOPLE = 50
MAX_IMPORT_BYTES = 512 * 1024
ROW_TYPES = ("stage", "control")


@dataclass(frozen=True)
class RoleProfile:
    """A security role as the organisation names and staffs it."""

    id: str
    name: str
    responsibility: str
    people: tuple[str, ...] = ()
    edited: bool = False
    updated_at: datetime | None = None
    updated_by: str = ""


# a stored role profile is an edited one
_PROFILE_ROWS = row_mapper(RoleProfile, json=("people",), decode={"people": tuple},
                           sql={"id": "role_id", "edited": "TRUE"})


@dataclass(frozen=True)
class Raci:
    """The RACI of one pipeline: ``rows[(row_type, row_id)] = {role_id: letters}``."""

    pipeline_id: str
    rows: dict
    edited: frozenset = field(default_factory=frozenset)

    def accountable(self, row_type: str, row_id: str) -> str | None:
        """The accountable role of a row, or None."""
        for role_id, letters in self.rows.get((row_type, row_id), {}).items():
            if "A" in letters:
                return role_id
        return None


@dataclass(frozen=True)
class Gap:
    """Something with no accountable role (``severity`` gap) or an unstaffed one (warning)."""

    kind: str  # stage | threat | incident | control | staffing
    subject_id: str
    subject: str
    message: str
    severity: str = "gap"
    row: tuple[str, str] | None = None  # the RACI row whose accountable role would close it


# ----------------------------------------------------------------------------- roles
def role_profiles(store: Store) -> dict[str, RoleProfile]:
    """The eight roles with stored edits applied, in catalog order."""
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_PROFILE_ROWS.columns} FROM governance_roles").fetchall()
    stored = {profile.id: profile for profile in _PROFILE_ROWS.all(rows)}
    return {role_id: stored.get(role_id) or RoleProfile(role_id, role.name, role.responsibility)
            for role_id, role in load_roles().items()}


def _clean_people(people) -> tuple[str, ...]:
    if isinstance(people, str):
        people = people.replace("\n", ",").split(",")
    return tuple(dict.fromkeys(" ".join(str(p).split()) for p in (people or ()) if str(p).strip()))


def update_role(store: Store, role_id: str, *, name: str | None = None, responsibility: str | None = None,
                people=None) -> RoleProfile:
    """Rename a role, restate its responsibility or assign people (names or e-mails)."""
    principal = editor()
    current = role_profiles(store)
    if role_id not in current:
        raise UserFacingError(f"unknown role {role_id!r}; known: {', '.join(current)}")
    before = current[role_id]
    name = before.name if name is None else " ".join(str(name).split())
    responsibility = before.responsibility if responsibility is None else str(responsibility).strip()
    people = before.people if people is None else _clean_people(people)
    problems = []
    if not name or len(name) > MAX_NAME_CHARS:
        problems.append(f"role {role_id}: the name must be 1-{MAX_NAME_CHARS} characters")
    if len(responsibility) > MAX_RESPONSIBILITY_CHARS:
        problems.append(f"role {role_id}: the responsibility is longer than {MAX_RESPONSIBILITY_CHARS} characters")
    if len(people) > MAX_PEOPLE or any(len(p) > MAX_NAME_CHARS for p in people):
        problems.append(f"role {role_id}: at most {MAX_PEOPLE} people of at most {MAX_NAME_CHARS} characters each")
    if problems:
        raise ValidationFailed(problems, "role")
    old = {"name": before.name, "responsibility": before.responsibility, "people": list(before.people)}
    new = {"name": name, "responsibility": responsibility, "people": list(people)}
    if old != new:
        with store.connect() as conn:
            conn.execute("INSERT INTO governance_roles (role_id, name, responsibility, people, updated_by)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (role_id) DO UPDATE SET name = excluded.name,"
                         " responsibility = excluded.responsibility, people = excluded.people,"
                         " updated_at = now(), updated_by = excluded.updated_by",
                         [role_id, name, responsibility, json.dumps(list(people)), principal.label])
            record_change(conn, principal, None, "role", role_id, old, new)
    return role_profiles(store)[role_id]


# ----------------------------------------------------------------------------- RACI
def row_name(row_type: str, row_id: str) -> str:
    """Human name of a RACI row."""
    if row_type == "stage":
        return {s.id: s.name for s in lifecycle_stages()}.get(row_id, row_id)
    control = load_controls().get(row_id)
    return f"{row_id} {control.title}" if control else row_id


def load_raci(store: Store, pipeline_id: str) -> Raci:
    """The pipeline's RACI: the default rows with the stored rows replacing them."""
    with store.connect() as conn:
        stored = conn.execute("SELECT row_type, row_id, cells FROM governance_raci WHERE pipeline_id = ?",
                              [pipeline_id]).fetchall()
    rows = {key: dict(cells) for key, cells in default_raci().items()}
    edited = set()
    for row_type, row_id, cells in stored:
        if (row_type, row_id) in rows:
            rows[(row_type, row_id)] = json.loads(cells)
            edited.add((row_type, row_id))
    return Raci(pipeline_id, rows, frozenset(edited))


def validate_rows(rows: dict, source: str = "RACI") -> dict:
    """Check rows ``{(row_type, row_id): cells}``: known stages, controls, roles; one accountable each."""
    problems: list[str] = []
    known = default_raci()
    clean = {}
    for (row_type, row_id), cells in rows.items():
        where = f"{source}: {row_type} {row_id}"
        if row_type not in ROW_TYPES:
            problems.append(f"{source}: unknown row type {row_type!r} (use stage or control)")
        elif (row_type, row_id) not in known:
            what = "lifecycle stage" if row_type == "stage" else "control"
            problems.append(f"{where}: unknown {what} {row_id!r}")
        else:
            clean[(row_type, row_id)] = check_cells(cells, where, problems)
    if problems:
        raise ValidationFailed(problems, source)
    return clean


def set_raci_rows(store: Store, pipeline_id: str, rows: dict, source: str = "RACI") -> int:
    """Replace RACI rows of a pipeline (validated as a whole); returns the number changed."""
    principal = editor(pipeline_id)
    clean = validate_rows(rows, source)
    current = load_raci(store, pipeline_id)
    changed = 0
    with store.connect() as conn:
        for (row_type, row_id), cells in clean.items():
            before = current.rows[(row_type, row_id)]
            if cells == before:
                continue
            conn.execute("INSERT INTO governance_raci (pipeline_id, row_type, row_id, cells, updated_by)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, row_type, row_id) DO UPDATE SET"
                         " cells = excluded.cells, updated_at = now(), updated_by = excluded.updated_by",
                         [pipeline_id, row_type, row_id, json.dumps(cells, sort_keys=True), principal.label])
            record_change(conn, principal, pipeline_id, "raci", f"{row_type}:{row_id}", before, cells)
            changed += 1
    return changed


def set_accountable(store: Store, pipeline_id: str, row_type: str, row_id: str, role_id: str) -> int:
    """Make ``role_id`` the one accountable role of a row (others keep their other letters)."""
    current = load_raci(store, pipeline_id).rows.get((row_type, row_id))
    if current is None:
        validate_rows({(row_type, row_id): {}})
    cells = {r: letters.replace("A", "") for r, letters in current.items()}
    cells[role_id] = "A" + cells.get(role_id, "")
    return set_raci_rows(store, pipeline_id, {(row_type, row_id): {r: v for r, v in cells.items() if v}})


def export_raci(raci: Raci) -> str:
    """The RACI as YAML (the import format): ``stages``/``controls`` -> row id -> role -> letters."""
    document = {"pipeline": raci.pipeline_id, "stages": {}, "controls": {}}
    for (row_type, row_id), cells in raci.rows.items():
        document["stages" if row_type == "stage" else "controls"][row_id] = dict(cells)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def parse_raci(text: str, fmt: str = "yaml", source: str = "RACI import") -> dict:
    """Rows from imported YAML/JSON (the export format) or CSV (row_type,row_id,<role ids>...)."""
    if len(text.encode("utf-8", errors="replace")) > MAX_IMPORT_BYTES:
        raise UserFacingError(f"{source} is larger than {MAX_IMPORT_BYTES // 1024} KiB")
    rows: dict = {}
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"row_type", "row_id"} <= set(reader.fieldnames):
            raise UserFacingError(f"{source}: the CSV needs the columns row_type, row_id and one per role id")
        for record in reader:
            key = (record.pop("row_type") or "", record.pop("row_id") or "")
            rows[key] = {k: v for k, v in record.items() if k is not None and (v or "").strip()}
        return validate_rows(rows, source)
    try:
        document = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise UserFacingError(f"{source} is not valid {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or not set(document) & {"stages", "controls"}:
        raise UserFacingError(f"{source} must be a mapping with 'stages' and/or 'controls'")
    unknown = set(document) - {"pipeline", "stages", "controls"}
    if unknown:
        raise UserFacingError(f"{source}: unknown section(s) {', '.join(sorted(map(str, unknown)))}")
    for section, row_type in (("stages", "stage"), ("controls", "control")):
        block = document.get(section) or {}
        if not isinstance(block, dict):
            raise UserFacingError(f"{source}: '{section}' must map row ids to role letters")
        for row_id, cells in block.items():
            rows[(row_type, str(row_id))] = cells
    return validate_rows(rows, source)


def import_raci(store: Store, pipeline_id: str, text: str, fmt: str = "yaml") -> int:
    """Validate and apply an imported RACI; nothing is written when any row is invalid."""
    editor(pipeline_id)
    return set_raci_rows(store, pipeline_id, parse_raci(text, fmt), "RACI import")


# ----------------------------------------------------------------------------- gaps
def pipeline_phases(pipeline: Pipeline) -> list[str]:
    """Lifecycle stages the pipeline has (design always), in lifecycle order."""
    kinds = stage_kinds()
    used = {"design"} | {kinds[s.kind].lifecycle for s in pipeline.stages if s.kind in kinds}
    return [s.id for s in lifecycle_stages() if s.id in used]


def accountability_gaps(pipeline: Pipeline, raci: Raci, profiles: dict[str, RoleProfile], open_threats,
                        incidents=(), min_band: str = "high") -> list[Gap]:
    """Stages, open threats at/above ``min_band``, active incidents (monitoring ``Incident``
    objects) and threat controls with no accountable role; plus a warning for each
    accountable role nobody is assigned to."""
    gaps: list[Gap] = []
    used_rows = []
    for phase in pipeline_phases(pipeline):
        used_rows.append(("stage", phase))
        if raci.accountable("stage", phase) is None:
            gaps.append(Gap("stage", phase, row_name("stage", phase),
                            f"Lifecycle stage '{row_name('stage', phase)}' has no accountable role.",
                            row=("stage", phase)))
    for item in open_threats:
        rule = item.threat.rule
        used_rows.append(("stage", rule.lifecycle))
        if band_at_least(item.residual_risk.band, min_band) and raci.accountable("stage", rule.lifecycle) is None:
            gaps.append(Gap("threat", item.id, rule.title,
                            f"Open {item.residual_risk.band} threat '{rule.title}' on {item.threat.element_id} has "
                            f"no accountable role (stage '{row_name('stage', rule.lifecycle)}' has none).",
                            row=("stage", rule.lifecycle)))
        for control_id in rule.controls:
            used_rows.append(("control", control_id))
    for incident in incidents:
        if incident.owner_role in profiles:
            used_rows.append(("incident", incident.owner_role))
            continue
        used_rows.append(("stage", "monitoring"))
        if raci.accountable("stage", "monitoring") is None:
            gaps.append(Gap("incident", incident.incident_id, incident.title[:120],
                            f"Open incident '{incident.title[:80]}' has no accountable role (no known owner role "
                            "and the monitoring stage has no accountable role).", row=("stage", "monitoring")))
    seen_controls = set()
    for row_type, row_id in used_rows:
        if row_type == "control" and row_id not in seen_controls:
            seen_controls.add(row_id)
            if (row_type, row_id) in raci.rows and raci.accountable(row_type, row_id) is None:
                gaps.append(Gap("control", row_id, row_name("control", row_id),
                                f"Control {row_name('control', row_id)} (recommended for an open threat) has no "
                                "accountable role.", row=("control", row_id)))
    accountable_roles = {row_id if row_type == "incident" else raci.accountable(row_type, row_id)
                         for row_type, row_id in used_rows}
    for role_id, profile in profiles.items():
        if role_id in accountable_roles and not profile.people:
            gaps.append(Gap("staffing", role_id, profile.name,
                            f"'{profile.name}' is accountable for part of this pipeline but nobody is assigned.",
                            severity="warning"))
    return gaps
