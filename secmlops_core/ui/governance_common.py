"""Shared pieces of the Governance page: loading the workspace, applying a change with clear
errors, editor revisions and the change history."""

from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from secmlops_core.access.policy import can
from secmlops_core.errors import UserFacingError
from secmlops_core.governance import workspace
from secmlops_core.governance.history import list_changes
from secmlops_core.pipeline import library
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.ui.shell import store
from secmlops_core.ui.text import escape_markdown
from secmlops_core.ui.threats_view import show_problems

VERSION_KEY = "governance_version"


def pick_version(pipeline: Pipeline) -> Pipeline:
    """Sidebar: the stored version to govern (newest by default)."""
    versions = library.list_versions(store(), pipeline.id)
    if len(versions) < 2:
        return pipeline
    labels = {v.version: f"v{v.version} · {v.label}" for v in versions}
    chosen = st.sidebar.selectbox("Version", list(labels), format_func=labels.__getitem__, key=VERSION_KEY)
    return pipeline if chosen == versions[0].version else library.load_version(store(), pipeline.id, chosen)


def load(pipeline: Pipeline) -> workspace.Workspace:
    """The workspace of this pipeline version, computed from the store."""
    return workspace.build(store(), pipeline)


def editable(pipeline_id: str | None = None) -> bool:
    """Whether the signed-in user may edit governance (widgets are disabled otherwise)."""
    return can("edit_governance", pipeline_id)


def revision(name: str) -> int:
    """Revision counter of an editor (bumped after a save so the widget reloads from the store)."""
    return st.session_state.get(f"governance_rev:{name}", 0)


def apply(change: Callable[[], object], done: str, editor: str | None = None) -> bool:
    """Run a core change; show its problems, or confirm it and rerun. Returns False on failure."""
    try:
        change()
    except UserFacingError as exc:
        show_problems(exc)
        return False
    if editor:
        st.session_state[f"governance_rev:{editor}"] = revision(editor) + 1
    st.session_state["governance_done"] = done
    st.rerun()
    return True


def confirmation() -> None:
    """Show the confirmation of the last change (once), as literal text (it may quote names)."""
    done = st.session_state.pop("governance_done", None)
    if done:
        st.success(escape_markdown(done), icon=":material/check_circle:")


def history_panel(pipeline_id: str, area: str | None = None, key: str = "history") -> None:
    """The governance changes of this pipeline (and global ones), newest first."""
    changes = list_changes(store(), pipeline_id, area)
    if not changes:
        st.caption("No changes recorded yet.")
        return
    st.dataframe(pd.DataFrame([{"when (UTC)": c.changed_at, "who": c.changed_by, "area": c.area,
                                "subject": c.subject, "before": str(c.before), "after": str(c.after)}
                               for c in changes]), hide_index=True, width="stretch", key=key)


def changed_rows(original: pd.DataFrame, edited: pd.DataFrame, columns: list[str]) -> dict[int, dict]:
    """``{row position: {column: new value}}`` for cells the user changed."""
    out: dict[int, dict] = {}
    for position, ((_, old), (_, new)) in enumerate(zip(original.iterrows(), edited.iterrows())):
        fields = {c: new[c] for c in columns if _text(new[c]) != _text(old[c])}
        if fields:
            out[position] = fields
    return out


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def summary(ws: workspace.Workspace) -> None:
    """One line of context and the headline numbers."""
    version = f"v{ws.version}" if ws.version else "unsaved version"
    st.caption(f"{escape_markdown(ws.pipeline.name)} · {version} · {len(ws.assessment.open_threats())} open "
               f"threats · {len(ws.evidence)} evidence record(s)")
    counts = ws.report.counts()
    columns = st.columns(4)
    columns[0].metric("Accountability gaps", len(ws.blocking_gaps()))
    columns[1].metric("Gates passed", f"{counts['pass']} / {len(ws.report.gates)}")
    mean = sum(fc.coverage for fc in ws.coverage.values()) / max(1, len(ws.coverage))
    columns[2].metric("Compliance coverage (mean)", f"{100 * mean:.0f} %")
    columns[3].metric("Maturity (mean, 0-5)", f"{sum(m.score for m in ws.maturity) / len(ws.maturity):.1f}")
