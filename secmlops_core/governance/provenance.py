"""Provenance: dataset and model hashes, who approved what and when, and the chain behind the
deployed detector: weights file hash -> registry entry -> approval -> deployment (frames
served with that hash, seen in telemetry).

Hash and approval records are evidence of kind ``provenance`` (metrics ``artifact``,
``action`` ``hash``/``approval``, ``sha256``); attack-lab promotions of candidate models are
read from the evidence they leave (source ``candidate:<id>``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from secmlops_core.access.policy import require
from secmlops_core.errors import UserFacingError
from secmlops_core.evidence import Evidence, add_evidence, list_evidence
from secmlops_core.governance.history import editor, record_change
from secmlops_core.governance.technology import WeightsCheck, check_deployed_weights
from secmlops_core.store import Store

MAX_FILES = 20_000
MAX_NOTE_CHARS = 1000
OK, BROKEN, MISSING = "ok", "broken", "missing"


@dataclass(frozen=True)
class HashRecord:
    """A recorded dataset (or other artifact) hash."""

    evidence_id: str
    artifact: str
    name: str
    path: str
    sha256: str
    files: int
    size_bytes: int
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Approval:
    """An approval of a model hash for deployment (or a registry promotion)."""

    evidence_id: str
    kind: str  # approval | promotion
    weights_id: str
    sha256: str
    approved_by: str
    approved_at: datetime
    note: str


@dataclass(frozen=True)
class Deployment:
    """Frames served by one model in the telemetry window."""

    model_id: str
    sha256: str
    frames: int
    last_seen: datetime


@dataclass(frozen=True)
class ChainLink:
    """One link of the provenance chain."""

    step: str
    status: str  # ok | broken | missing
    detail: str


@dataclass(frozen=True)
class ProvenanceChain:
    """The chain behind the deployed detector, with the records it rests on."""

    weights: WeightsCheck
    links: tuple[ChainLink, ...]
    approvals: tuple[Approval, ...]
    promotions: tuple[Approval, ...]
    deployments: tuple[Deployment, ...]
    datasets: tuple[HashRecord, ...]

    @property
    def intact(self) -> bool:
        """True when every link is ok."""
        return all(link.status == OK for link in self.links)


def live_detector_linked(store: Store, pipeline_id: str) -> bool:
    """Whether the pipeline deploys the studio's live detector (default: the PDS template's pipeline)."""
    from secmlops_core.pipeline.library import DEFAULT_TEMPLATE

    with store.connect() as conn:
        row = conn.execute("SELECT live_detector FROM governance_pipelines WHERE pipeline_id = ?",
                           [pipeline_id]).fetchone()
    return bool(row[0]) if row else pipeline_id == DEFAULT_TEMPLATE


def set_live_detector_link(store: Store, pipeline_id: str, linked: bool) -> bool:
    """Link or unlink a pipeline and the live detector; returns whether anything changed."""
    principal = editor(pipeline_id)
    before = live_detector_linked(store, pipeline_id)
    if before == bool(linked):
        return False
    with store.connect() as conn:
        conn.execute("INSERT INTO governance_pipelines (pipeline_id, live_detector, updated_by) VALUES (?, ?, ?)"
                     " ON CONFLICT (pipeline_id) DO UPDATE SET live_detector = excluded.live_detector,"
                     " updated_at = now(), updated_by = excluded.updated_by", [pipeline_id, bool(linked), principal.label])
        record_change(conn, principal, pipeline_id, "provenance", "live_detector", before, bool(linked))
    return True


def hash_path(path: Path) -> tuple[str, int, int]:
    """SHA-256 of a file, or of a directory's manifest (sorted relative paths and file hashes).

    Returns (sha256, files, bytes). Symbolic links are not followed.
    """
    from secmlops_core.detector.weights import sha256_file

    path = Path(path).expanduser()
    if path.is_file():
        return sha256_file(path), 1, path.stat().st_size
    if not path.is_dir():
        raise UserFacingError(f"{path}: no such file or directory")
    manifest = hashlib.sha256()
    files = size = 0
    for root, dirs, names in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            file_path = Path(root, name)
            if file_path.is_symlink() or not file_path.is_file():
                continue
            files += 1
            if files > MAX_FILES:
                raise UserFacingError(f"{path}: more than {MAX_FILES} files; hash a packed archive instead")
            size += file_path.stat().st_size
            relative = file_path.relative_to(path).as_posix()
            manifest.update(f"{relative}\0{sha256_file(file_path)}\n".encode("utf-8"))
    if not files:
        raise UserFacingError(f"{path}: the directory holds no files")
    return manifest.hexdigest(), files, size


def record_dataset_hash(store: Store, pipeline_id: str, name: str, path: str | Path) -> HashRecord:
    """Hash a dataset file or folder and record it as provenance evidence of the pipeline."""
    principal = editor(pipeline_id)
    name = " ".join(str(name or "").split())
    if not name or len(name) > 120:
        raise UserFacingError("give the dataset a name of 1-120 characters")
    digest, files, size = hash_path(Path(path))
    resolved = str(Path(path).expanduser().resolve())
    evidence = add_evidence(store, "provenance", f"dataset:{name}",
                            f"Dataset {name}: SHA-256 {digest} ({files} file(s), {size} bytes)",
                            pipeline_id=pipeline_id, outcome="info", created_by=principal.label,
                            metrics={"artifact": "dataset", "action": "hash", "name": name, "path": resolved,
                                     "sha256": digest, "files": files, "bytes": size})
    with store.connect() as conn:
        record_change(conn, principal, pipeline_id, "provenance", f"dataset:{name}", None,
                      {"sha256": digest, "evidence": evidence.evidence_id})
    return _hash_record(evidence)


def approve_weights(store: Store, pipeline_id: str, weights_id: str | None = None, note: str = "") -> Approval:
    """Approve the (deployed) weights for release after re-hashing them; refused when they do not verify."""
    principal = editor(pipeline_id)
    require("promote_models", pipeline_id)
    note = str(note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise UserFacingError(f"the approval note is longer than {MAX_NOTE_CHARS} characters")
    weights = check_deployed_weights(weights_id)
    if not weights.verified:
        raise UserFacingError(f"cannot approve weights {weights.weights_id}: {weights.detail}")
    evidence = add_evidence(store, "provenance", f"approval:{weights.weights_id}",
                            f"{principal.label} approved weights {weights.weights_id} (SHA-256 {weights.pinned_sha256}) "
                            f"for deployment" + (f": {note}" if note else ""),
                            pipeline_id=pipeline_id, outcome="pass", created_by=principal.label,
                            metrics={"artifact": "model", "action": "approval", "weights_id": weights.weights_id,
                                     "sha256": weights.pinned_sha256, "note": note})
    with store.connect() as conn:
        record_change(conn, principal, pipeline_id, "provenance", f"approval:{weights.weights_id}", None,
                      {"sha256": weights.pinned_sha256, "evidence": evidence.evidence_id})
    return _approval(evidence)


def _hash_record(e: Evidence) -> HashRecord:
    m = e.metrics
    return HashRecord(e.evidence_id, str(m.get("artifact", "")), str(m.get("name", "")), str(m.get("path", "")),
                      str(m.get("sha256", "")), int(m.get("files", 0)), int(m.get("bytes", 0)), e.created_by,
                      e.created_at)


def _approval(e: Evidence) -> Approval:
    m = e.metrics
    if m.get("action") == "approval":
        return Approval(e.evidence_id, "approval", str(m.get("weights_id", "")), str(m.get("sha256", "")),
                        e.created_by, e.created_at, str(m.get("note", "")))
    return Approval(e.evidence_id, "promotion", e.source_ref.partition(":")[2], str(m.get("sha256", "")),
                    e.created_by, e.created_at, e.summary)


def hash_records(evidence: list[Evidence]) -> list[HashRecord]:
    """Hash records among a pipeline's evidence, newest first."""
    return [_hash_record(e) for e in evidence if e.kind == "provenance" and e.metrics.get("action") == "hash"]


def approvals(evidence: list[Evidence]) -> list[Approval]:
    """Deployment approvals among a pipeline's evidence, newest first."""
    return [_approval(e) for e in evidence if e.kind == "provenance" and e.metrics.get("action") == "approval"]


def promotions(store: Store) -> list[Approval]:
    """Attack-lab promotions of candidate models into the weights registry, newest first."""
    return [_approval(e) for e in list_evidence(store, kind="provenance", limit=200)
            if e.source_ref.startswith("candidate:")]


def deployments(hours: int = 24) -> list[Deployment]:
    """Models that served frames in the last ``hours`` (from telemetry), most frames first."""
    from secmlops_core.telemetry.query import events_frame

    end = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        frame = events_frame(end - timedelta(hours=hours), end, columns=["ts", "model_id", "model_sha256"])
    except (OSError, ValueError, RuntimeError):
        return []
    if frame.empty:
        return []
    grouped = frame.groupby(["model_id", "model_sha256"]).agg(frames=("ts", "size"), last_seen=("ts", "max"))
    grouped = grouped.sort_values("frames", ascending=False)
    return [Deployment(str(mid), str(sha), int(row.frames), row.last_seen.to_pydatetime())
            for (mid, sha), row in grouped.iterrows()]


def build_chain(store: Store, evidence: list[Evidence], weights: WeightsCheck | None = None,
                served: list[Deployment] | None = None) -> ProvenanceChain:
    """The chain behind the deployed detector: file hash, registry entry, approval, deployment."""
    weights = weights or check_deployed_weights()
    served = deployments() if served is None else served
    approved, promoted = approvals(evidence), promotions(store)
    links = []
    if weights.file_sha256 is None:
        links.append(ChainLink("Weights file", MISSING, weights.detail))
    else:
        links.append(ChainLink("Weights file", OK, f"{weights.path}: SHA-256 {weights.file_sha256}"))
    if weights.pinned_sha256 is None:
        links.append(ChainLink("Registry entry", MISSING, weights.detail))
    else:
        origin = "built-in" if weights.builtin else "operator-registered"
        poisoned = "poisoned" in weights.source.lower()
        status = OK if weights.verified and not poisoned else BROKEN if weights.verified is False or poisoned else MISSING
        detail = f"{weights.weights_id} ({origin}; {weights.source}; licence {weights.licence}) pins " \
                 f"{weights.pinned_sha256}: {weights.detail}"
        if poisoned:
            detail += " - this entry is a POISONED attack-lab candidate"
        links.append(ChainLink("Registry entry", status, detail))
    matching = [a for a in approved + promoted if a.sha256 and a.sha256 == weights.pinned_sha256]
    approvals_only = [a for a in matching if a.kind == "approval"]
    if approvals_only:
        latest = approvals_only[0]
        links.append(ChainLink("Approval", OK, f"approved by {latest.approved_by} at {latest.approved_at:%Y-%m-%d %H:%M}"
                                               + (f": {latest.note}" if latest.note else "")))
    elif approved:
        links.append(ChainLink("Approval", BROKEN, "approvals exist, but none for the deployed SHA-256"))
    else:
        links.append(ChainLink("Approval", MISSING, "no approval recorded for these weights"))
    live = [d for d in served if d.sha256 == weights.pinned_sha256]
    others = [d for d in served if d.sha256 != weights.pinned_sha256]
    if others:
        links.append(ChainLink("Deployment", BROKEN, "frames served by other weights: " + ", ".join(
            f"{d.model_id} ({d.sha256[:12]}..., {d.frames} frames)" for d in others[:3])))
    elif live:
        links.append(ChainLink("Deployment", OK, f"{live[0].frames} frames served in the last 24 h, last at "
                                                 f"{live[0].last_seen:%Y-%m-%d %H:%M:%S} UTC"))
    else:
        links.append(ChainLink("Deployment", MISSING, "no frames served in the last 24 h (no feed running)"))
    return ProvenanceChain(weights, tuple(links), tuple(approved), tuple(promoted), tuple(served),
                           tuple(hash_records(evidence)))

