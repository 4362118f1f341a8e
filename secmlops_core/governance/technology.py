"""Technology: the controls catalog with implementation status per pipeline, and the tooling
each control relies on, with whether the product sees that tooling in use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secmlops_core.access import audit
from secmlops_core.access.users import list_users
from secmlops_core.errors import UserFacingError
from secmlops_core.evidence import Evidence
from secmlops_core.governance.definitions import Tool, load_tools
from secmlops_core.governance.history import editor, record_change
from secmlops_core.pipeline.model import Pipeline, effective_property
from secmlops_core.store import Store
from secmlops_core.threats import register as reg


@dataclass(frozen=True)
class ToolStatus:
    """Whether a tool is in use for a pipeline: True, False, or None (cannot tell)."""

    tool: Tool
    in_use: bool | None
    detail: str


@dataclass(frozen=True)
class WeightsCheck:
    """The deployed detector's registry entry and whether its file matches the pinned hash."""

    weights_id: str
    pinned_sha256: str | None
    file_sha256: str | None
    path: str | None
    source: str
    licence: str
    builtin: bool
    verified: bool | None  # None: the file or entry is missing
    detail: str


def set_control_status(store: Store, pipeline_id: str, changes: dict[str, dict]) -> int:
    """Apply ``{control_id: {"status": ..., "note": ...}}`` for a pipeline as a governance change
    (the same control status the Threats page edits); returns the number of changed fields."""
    principal = editor(pipeline_id)

    def governance_record(conn, control_id, before, after):
        record_change(conn, principal, pipeline_id, "control", control_id, before, after)

    return reg.set_control_states(store, pipeline_id, changes, principal.label, permission="edit_governance",
                                  also_record=governance_record)


def _file_hash(path: str, size: int, mtime_ns: int) -> str:
    from secmlops_core.detector.weights import sha256_file

    return sha256_file(Path(path))


def check_deployed_weights(weights_id: str | None = None) -> WeightsCheck:
    """Re-hash the configured (or named) detector weights against the registry (cached per file state)."""
    from secmlops_core.detector.weights import list_weights
    from secmlops_core.settings import get_settings

    weights_id = weights_id or get_settings().default_weights
    entry = next((e for e in list_weights() if e.id == weights_id), None)
    if entry is None:
        return WeightsCheck(weights_id, None, None, None, "", "", False, None,
                            f"weights {weights_id!r} are not in the registry")
    try:
        path = entry.file_path()
    except UserFacingError as exc:
        return WeightsCheck(entry.id, entry.sha256, None, None, entry.source, entry.licence, entry.builtin, None,
                            str(exc))
    if not path.is_file():
        return WeightsCheck(entry.id, entry.sha256, None, str(path), entry.source, entry.licence, entry.builtin,
                            None, f"file {path} does not exist")
    stat = path.stat()
    digest = _file_hash(str(path), stat.st_size, stat.st_mtime_ns)
    ok = digest == entry.sha256
    return WeightsCheck(entry.id, entry.sha256, digest, str(path), entry.source, entry.licence, entry.builtin, ok,
                        "file matches the pinned SHA-256" if ok else "file does NOT match the pinned SHA-256")


def tool_status(store: Store, pipeline: Pipeline, evidence: list[Evidence], tools=None) -> list[ToolStatus]:
    """Each tool with whether the product sees it in use for this pipeline, and why."""
    out = []
    for tool in tools or load_tools():
        signal = tool.signal
        kind = signal["type"]
        if kind == "stage_property":
            stages = [s.name for s in pipeline.stages if effective_property(s, signal["property"]) is True]
            out.append(ToolStatus(tool, bool(stages), f"declared on: {', '.join(stages)}" if stages
                                  else f"no stage declares {signal['property']}"))
        elif kind == "evidence":
            counts = {k: sum(1 for e in evidence if e.kind == k) for k in signal["kinds"]}
            out.append(ToolStatus(tool, any(counts.values()),
                                  ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())))
        elif kind == "audit_chain":
            check = audit.verify_chain(store)
            out.append(ToolStatus(tool, check.ok and check.entries > 0,
                                  f"{check.entries} entries, chain {'intact' if check.ok else 'BROKEN: ' + check.problem}"))
        elif kind == "weights_registry":
            weights = check_deployed_weights()
            out.append(ToolStatus(tool, weights.verified, f"{weights.weights_id}: {weights.detail}"))
        else:  # accounts
            users = [u for u in list_users(store) if not u.disabled]
            out.append(ToolStatus(tool, bool(users), f"{len(users)} active account(s) with roles"))
    return out
