"""Pipelines in the store: shipped templates, named versions, and loading them back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from secmlops_core.access import audit
from secmlops_core.access.policy import SYSTEM, acting_as, can, require
from secmlops_core.errors import UserFacingError
from secmlops_core.pipeline.formats import load_pipeline, to_document
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.pipeline.validate import parse_pipeline
from secmlops_core.store import Store
from secmlops_core.store.rows import row_mapper

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "data" / "templates"
DEFAULT_TEMPLATE = "pds"
MAX_LABEL_CHARS = 120


@dataclass(frozen=True)
class PipelineSummary:
    """A stored pipeline and its newest version."""

    pipeline_id: str
    name: str
    latest_version: int
    latest_label: str
    updated_at: datetime


@dataclass(frozen=True)
class PipelineVersion:
    """One saved version of a pipeline."""

    pipeline_id: str
    version: int
    label: str
    sha256: str
    author: str
    created_at: datetime


_SUMMARY_ROWS = row_mapper(PipelineSummary, sql={"pipeline_id": "p.pipeline_id", "name": "p.name",
                                                 "latest_version": "v.version", "latest_label": "v.label",
                                                 "updated_at": "v.created_at"})
_VERSION_ROWS = row_mapper(PipelineVersion)


def list_templates() -> dict[str, Path]:
    """Shipped templates by id (file stem), the PDS case first."""
    paths = {path.stem: path for path in sorted(TEMPLATES_DIR.glob("*.yaml"))}
    ordered = {DEFAULT_TEMPLATE: paths.pop(DEFAULT_TEMPLATE)} if DEFAULT_TEMPLATE in paths else {}
    ordered.update(paths)
    return ordered


def load_template(template_id: str) -> Pipeline:
    """A shipped template as a Pipeline."""
    templates = list_templates()
    if template_id not in templates:
        raise UserFacingError(f"unknown template {template_id!r}; available: {', '.join(templates)}")
    return load_pipeline(templates[template_id])


def document_json(pipeline: Pipeline) -> str:
    """The canonical JSON text stored for a version (stable key order, hashable)."""
    return json.dumps(to_document(pipeline), sort_keys=False, ensure_ascii=False, separators=(",", ":"))


def save_version(store: Store, pipeline: Pipeline, label: str) -> PipelineVersion:
    """Store the pipeline as its next version, authored by the acting principal."""
    author = require("edit_pipelines", pipeline.id).label
    label = (label or "").strip() or "untitled"
    if len(label) > MAX_LABEL_CHARS:
        raise UserFacingError(f"version label is longer than {MAX_LABEL_CHARS} characters")
    parse_pipeline(to_document(pipeline))  # never store an invalid pipeline
    text = document_json(pipeline)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO pipelines (pipeline_id, name) VALUES (?, ?) "
            "ON CONFLICT (pipeline_id) DO UPDATE SET name = excluded.name",
            [pipeline.id, pipeline.name])
        (next_version,) = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM pipeline_versions WHERE pipeline_id = ?",
            [pipeline.id]).fetchone()
        conn.execute(
            "INSERT INTO pipeline_versions (pipeline_id, version, label, document, sha256, author) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [pipeline.id, next_version, label, text, digest, author])
        row = conn.execute(
            "SELECT created_at FROM pipeline_versions WHERE pipeline_id = ? AND version = ?",
            [pipeline.id, next_version]).fetchone()
        conn.execute("DELETE FROM pipeline_drafts WHERE pipeline_id = ?", [pipeline.id])
        audit.record(conn, "pipeline.save", pipeline.id, None,
                     {"version": next_version, "label": label, "sha256": digest,
                      "stages": len(pipeline.stages), "flows": len(pipeline.flows)}, actor=author)
    return PipelineVersion(pipeline.id, next_version, label, digest, author, row[0])


def list_pipelines(store: Store) -> list[PipelineSummary]:
    """Every stored pipeline the acting principal may see (a workshop limit hides the others),
    with its newest version, oldest pipeline first."""
    with store.connect() as conn:
        rows = conn.execute(
            f"SELECT {_SUMMARY_ROWS.columns} FROM pipelines p JOIN pipeline_versions v USING (pipeline_id) "
            "WHERE v.version = (SELECT max(version) FROM pipeline_versions w WHERE w.pipeline_id = p.pipeline_id) "
            "ORDER BY p.created_at, p.pipeline_id").fetchall()
    return [summary for summary in _SUMMARY_ROWS.all(rows) if can("view", summary.pipeline_id)]


def list_versions(store: Store, pipeline_id: str) -> list[PipelineVersion]:
    """All versions of one pipeline, newest first."""
    require("view", pipeline_id)
    with store.connect() as conn:
        rows = conn.execute(
            f"SELECT {_VERSION_ROWS.columns} FROM pipeline_versions WHERE pipeline_id = ? ORDER BY version DESC",
            [pipeline_id]).fetchall()
    return _VERSION_ROWS.all(rows)


def load_version(store: Store, pipeline_id: str, version: int | None = None) -> Pipeline:
    """A stored version (the newest when ``version`` is None)."""
    require("view", pipeline_id)
    with store.connect() as conn:
        if version is None:
            row = conn.execute(
                "SELECT document FROM pipeline_versions WHERE pipeline_id = ? ORDER BY version DESC LIMIT 1",
                [pipeline_id]).fetchone()
        else:
            row = conn.execute(
                "SELECT document FROM pipeline_versions WHERE pipeline_id = ? AND version = ?",
                [pipeline_id, version]).fetchone()
    if row is None:
        what = f"version {version} of " if version is not None else ""
        raise UserFacingError(f"{what}pipeline {pipeline_id!r} is not in the store")
    return parse_pipeline(json.loads(row[0]))


def latest(store: Store, pipeline_id: str) -> Pipeline:
    """The newest stored version of a pipeline."""
    return load_version(store, pipeline_id)


def ensure_default_pipelines(store: Store) -> None:
    """On a new store, save the PDS template as the first pipeline."""
    with store.connect() as conn:
        (count,) = conn.execute("SELECT count(*) FROM pipelines").fetchone()
    if count == 0:
        with acting_as(SYSTEM):
            save_version(store, load_template(DEFAULT_TEMPLATE), "template")


@dataclass(frozen=True)
class Draft:
    """An unsaved working copy of a pipeline."""

    pipeline: Pipeline
    base_version: int | None
    updated_at: datetime


def save_draft(store: Store, pipeline: Pipeline, base_version: int | None) -> None:
    """Keep the working copy in the store (replacing the previous draft of that pipeline)."""
    require("edit_pipelines", pipeline.id)
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO pipeline_drafts (pipeline_id, document, base_version, updated_at) "
            "VALUES (?, ?, ?, current_timestamp) ON CONFLICT (pipeline_id) DO UPDATE SET "
            "document = excluded.document, base_version = excluded.base_version, updated_at = excluded.updated_at",
            [pipeline.id, document_json(pipeline), base_version])


def load_draft(store: Store, pipeline_id: str) -> Draft | None:
    """The stored draft of a pipeline, if any."""
    require("view", pipeline_id)
    with store.connect() as conn:
        row = conn.execute("SELECT document, base_version, updated_at FROM pipeline_drafts WHERE pipeline_id = ?",
                           [pipeline_id]).fetchone()
    if row is None:
        return None
    return Draft(parse_pipeline(json.loads(row[0])), row[1], row[2])
