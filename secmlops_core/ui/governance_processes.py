"""Processes tab: lifecycle gates with their criteria and evidence, recording a gate report,
and the gate results recorded before."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from secmlops_core.evidence import list_evidence
from secmlops_core.governance import gates
from secmlops_core.governance.workspace import Workspace
from secmlops_core.ui.governance_common import apply, editable
from secmlops_core.ui.shell import store
from secmlops_core.ui.text import escape_markdown

ICONS = {gates.PASS: ":material/check_circle:", gates.FAIL: ":material/cancel:",
         gates.NO_EVIDENCE: ":material/help:"}
COLORS = {gates.PASS: "green", gates.FAIL: "red", gates.NO_EVIDENCE: "gray"}


def processes_tab(ws: Workspace) -> None:
    """Gate report of this pipeline version."""
    report = ws.report
    counts = report.counts()
    version = f"v{report.pipeline_version}" if report.pipeline_version else "unsaved version"
    st.caption(f"Gate report of {escape_markdown(ws.pipeline.name)} {version} "
               f"(SHA-256 {report.pipeline_sha256[:12]}…). Missing evidence is never a pass. "
               "Same report: `secmlops gates PIPELINE_FILE`.")
    columns = st.columns(3)
    for column, status in zip(columns, (gates.PASS, gates.FAIL, gates.NO_EVIDENCE)):
        column.metric(f"Gates · {gates.STATUS_LABELS[status]}", counts[status])
    for result in report.gates:
        label = gates.STATUS_LABELS[result.status]
        c = result.counts
        owner = ws.profiles[result.gate.owner].name
        with st.expander(f"{result.gate.title} — {label} ({c[gates.PASS]}/{len(result.criteria)} criteria pass)",
                         icon=ICONS[result.status]):
            st.badge(label, color=COLORS[result.status])
            st.caption(f"{escape_markdown(result.gate.description)} Owner: {escape_markdown(owner)}.")
            st.dataframe(pd.DataFrame([{"criterion": r.criterion.title, "result": gates.STATUS_LABELS[r.status],
                                        "detail": r.detail, "evidence": ", ".join(r.evidence_ids)}
                                       for r in result.criteria]),
                         hide_index=True, width="stretch", key=f"gate_table:{result.gate.id}")
    if st.button("Record this gate report as evidence", key="gates_record", disabled=not editable(ws.pipeline.id)):
        apply(lambda: gates.record_report(store(), report),
              f"Recorded {len(report.gates)} gate result(s) as evidence.")
    recorded = list_evidence(store(), pipeline_id=ws.pipeline.id, kind="gate_result", limit=60)
    with st.expander(f"Recorded gate results ({len(recorded)})"):
        st.dataframe(pd.DataFrame([{"when": e.created_at, "by": e.created_by, "outcome": e.outcome,
                                    "summary": e.summary, "evidence": e.evidence_id} for e in recorded]),
                     hide_index=True, width="stretch", key="gates_recorded")
