"""Technology tab (controls status and tooling) and Governance & Compliance tab (maturity
radar, framework coverage and gaps, mapping edits)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from secmlops_core.catalog.loading import load_controls
from secmlops_core.governance import compliance, maturity, technology
from secmlops_core.governance.workspace import Workspace
from secmlops_core.threats import register as reg
from secmlops_core.ui.governance_common import apply, changed_rows, editable, revision
from secmlops_core.ui.shell import store


def technology_tab(ws: Workspace) -> None:
    """Controls with implementation status per pipeline, and the tooling they rely on."""
    controls = load_controls()
    tools_of: dict[str, list[str]] = {}
    for status in ws.tools:
        for control_id in status.tool.controls:
            tools_of.setdefault(control_id, []).append(status.tool.name)
    states = ws.controls
    implemented = sum(1 for s in states.values() if s.status == "implemented")
    columns = st.columns(3)
    columns[0].metric("Controls implemented", f"{implemented} / {len(controls)}")
    columns[1].metric("Planned", sum(1 for s in states.values() if s.status == "planned"))
    columns[2].metric("Tools in use", f"{sum(1 for t in ws.tools if t.in_use)} / {len(ws.tools)}")
    st.subheader("Tooling")
    st.dataframe(pd.DataFrame([{"tool": t.tool.name, "in use": {True: "yes", False: "no", None: "unknown"}[t.in_use],
                                "evidence": t.detail, "controls": ", ".join(t.tool.controls)} for t in ws.tools]),
                 hide_index=True, width="stretch", key="governance_tools")
    st.subheader("Controls")
    component = st.segmented_control("PTPGC component", ["all", "people", "technology", "processes", "governance",
                                                          "compliance"], default="all", key="controls_component")
    ids = [cid for cid, c in controls.items() if component in (None, "all") or c.ptpgc == component]
    frame = pd.DataFrame([{"id": cid, "control": controls[cid].title, "PTPGC": controls[cid].ptpgc,
                           "accountable": ws.profiles[a].name if (a := ws.raci.accountable("control", cid)) else "NONE",
                           "tooling": ", ".join(tools_of.get(cid, [])), "status": states[cid].status,
                           "note": states[cid].note} for cid in ids])
    edited = st.data_editor(frame, key=f"governance_controls:{ws.pipeline.id}:{component}:{revision('controls')}",
                            hide_index=True, width="stretch",
                            disabled=["id", "control", "PTPGC", "accountable", "tooling"]
                            if editable(ws.pipeline.id) else True,
                            column_config={"status": st.column_config.SelectboxColumn(
                                "Status", options=list(reg.CONTROL_STATUSES), required=True),
                                "note": st.column_config.TextColumn("Note", max_chars=reg.MAX_JUSTIFICATION_CHARS)})
    changes = {frame.iloc[p]["id"]: f for p, f in changed_rows(frame, edited, ["status", "note"]).items()}
    if changes:
        apply(lambda: technology.set_control_status(store(), ws.pipeline.id, changes),
              f"Saved the status of {len(changes)} control(s).", "controls")


def radar(ws: Workspace) -> go.Figure:
    """The maturity radar (0-5 per PTPGC component)."""
    names = [m.name for m in ws.maturity]
    scores = [m.score for m in ws.maturity]
    figure = go.Figure(go.Scatterpolar(r=scores + scores[:1], theta=names + names[:1], fill="toself",
                                       name="maturity", hovertemplate="%{theta}: %{r}<extra></extra>"))
    grid = "rgba(128, 128, 128, 0.4)"
    figure.update_layout(polar={"bgcolor": "rgba(0, 0, 0, 0)",
                                "radialaxis": {"range": [0, 5], "dtick": 1, "gridcolor": grid},
                                "angularaxis": {"gridcolor": grid}},
                         paper_bgcolor="rgba(0, 0, 0, 0)", showlegend=False, height=380,
                         margin={"l": 40, "r": 40, "t": 30, "b": 30})
    return figure


def maturity_panel(ws: Workspace) -> None:
    """Radar chart, the table of terms, and the formula."""
    left, right = st.columns([1, 1])
    left.plotly_chart(radar(ws), key="maturity_radar", config={"displayModeBar": False})
    right.dataframe(pd.DataFrame([{"component": m.name, "score": m.score, "level": m.level,
                                   "implementation": f"{100 * m.implementation:.0f} %",
                                   "coverage": f"{100 * m.coverage:.0f} %",
                                   "operation": f"{100 * m.operation:.0f} %", "basis": m.operation_basis}
                                  for m in ws.maturity]), hide_index=True, width="stretch", key="maturity_table")
    with right.expander("How the score is computed"):
        st.code(maturity.__doc__.split("\n\n", 1)[1].strip(), language=None)


def coverage_panel(ws: Workspace) -> None:
    """Coverage per framework, requirement table and gaps."""
    frameworks = list(ws.coverage.values())
    for column, fc in zip(st.columns(len(frameworks)), frameworks):
        counts = fc.counts()
        column.metric(fc.framework.name, f"{100 * fc.coverage:.0f} %",
                      help=f"{counts['covered']} covered, {counts['partial']} partial, {counts['gap']} gaps, "
                           f"{counts['unmapped']} unmapped")
    names = {fc.framework.id: fc.framework.name for fc in frameworks}
    chosen = st.selectbox("Framework", list(names), format_func=names.__getitem__, key="compliance_framework")
    fc = ws.coverage[chosen]
    only_gaps = st.toggle("Gaps only", key="compliance_gaps_only")
    rows = fc.gaps() if only_gaps else fc.requirements
    st.dataframe(pd.DataFrame([{"status": r.status, "id": r.requirement.id, "requirement": r.requirement.title,
                                "summary": r.requirement.summary, "coverage": round(100 * r.share),
                                "implemented": ", ".join(r.implemented), "missing": ", ".join(r.missing),
                                "gates": ", ".join(r.requirement.gates), "edited": r.edited} for r in rows]),
                 hide_index=True, width="stretch", key=f"coverage_table:{chosen}",
                 column_config={"coverage": st.column_config.ProgressColumn("Coverage", min_value=0, max_value=100,
                                                                            format="%d %%")})
    st.caption(f"Source: {fc.framework.source}. Summaries are paraphrases, not the framework's text.")
    mapping_editor(ws, chosen)


def mapping_editor(ws: Workspace, framework_id: str) -> None:
    """Edit which controls evidence a requirement; import a mapping file."""
    fc = ws.coverage[framework_id]
    controls = load_controls()
    with st.expander("Edit mappings"):
        ids = [r.requirement.id for r in fc.requirements]
        requirement_id = st.selectbox("Requirement", ids, key=f"mapping_requirement:{framework_id}",
                                      format_func=lambda i: f"{i} {fc.framework.requirement(i).title}")
        current = list(fc.framework.requirement(requirement_id).controls)
        with st.form(f"mapping_form:{framework_id}:{requirement_id}:{revision('mapping')}"):
            chosen = st.multiselect("Controls", list(controls), default=current,
                                    format_func=lambda c: f"{c} {controls[c].title}")
            saved = st.form_submit_button("Save mapping", disabled=not editable())
        if saved:
            apply(lambda: compliance.set_mappings(store(), {framework_id: {requirement_id: chosen}}),
                  f"Saved the mapping of {requirement_id}.", "mapping")
        upload = st.file_uploader("Import mappings (YAML/JSON: framework id -> requirement id -> [control ids])",
                                  type=["yaml", "yml", "json"], key="mapping_import")
        if upload is not None and st.button("Apply mapping import", key="mapping_import_apply", disabled=not editable()):
            text = upload.getvalue().decode("utf-8", errors="replace")
            apply(lambda: compliance.import_mappings(store(), text), f"Imported mappings from {upload.name}.", "mapping")


def compliance_tab(ws: Workspace) -> None:
    """The Governance & Compliance tab."""
    st.subheader("Maturity by PTPGC component")
    maturity_panel(ws)
    st.subheader("Framework coverage")
    coverage_panel(ws)
