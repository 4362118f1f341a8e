"""People tab: role profiles, accountability gaps with a one-click fix, the RACI matrices,
and RACI import/export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from secmlops_core.catalog.loading import load_controls
from secmlops_core.governance import people
from secmlops_core.governance.definitions import RACI_NAMES, default_raci, lifecycle_stages
from secmlops_core.governance.workspace import Workspace
from secmlops_core.ui.governance_common import apply, changed_rows, editable, revision
from secmlops_core.ui.shell import store
from secmlops_core.ui.text import escape_markdown

EMPTY = "-"  # an empty cell in the editors
BASE_LETTERS = [EMPTY, "A", "R", "AR", "C", "I"]


def gaps_panel(ws: Workspace) -> None:
    """Accountability gaps, each with a role picker that assigns the accountable role."""
    gaps, warnings = ws.blocking_gaps(), [g for g in ws.gaps if g.severity == "warning"]
    if not gaps:
        st.success("No accountability gap: every lifecycle stage, open high or critical threat, active incident "
                   "and recommended control has an accountable role.", icon=":material/verified_user:")
    roles = {p.id: p.name for p in ws.profiles.values()}
    rows_done = set()
    for index, gap in enumerate(gaps):
        with st.container(border=True):
            st.markdown(f":red[**Gap**] {escape_markdown(gap.message)}")
            if gap.row is None or gap.row in rows_done:
                continue
            rows_done.add(gap.row)
            left, right = st.columns([3, 1])
            default = next((r for r, v in default_raci().get(gap.row, {}).items() if "A" in v), None)
            role = left.selectbox("Accountable role", list(roles), format_func=roles.__getitem__,
                                  index=list(roles).index(default) if default in roles else 0,
                                  key=f"gap_role:{gap.row[0]}:{gap.row[1]}", disabled=not editable(ws.pipeline.id))
            if right.button("Assign accountable", key=f"gap_assign:{gap.row[0]}:{gap.row[1]}", type="primary",
                            disabled=not editable(ws.pipeline.id)):
                apply(lambda r=gap.row, role=role: people.set_accountable(store(), ws.pipeline.id, r[0], r[1], role),
                      f"{roles[role]} is now accountable for {people.row_name(*gap.row)}.", "raci")
    if warnings:
        with st.expander(f"{len(warnings)} accountable role(s) with nobody assigned"):
            for gap in warnings:
                st.markdown(f"- {escape_markdown(gap.message)}")


def roles_editor(ws: Workspace) -> None:
    """Names, responsibilities and people of the eight roles (stored organisation-wide)."""
    frame = pd.DataFrame([{"id": p.id, "name": p.name, "responsibility": p.responsibility,
                           "people": ", ".join(p.people)} for p in ws.profiles.values()])
    edited = st.data_editor(frame, key=f"governance_roles:{revision('roles')}", hide_index=True, width="stretch",
                            disabled=["id"] if editable() else True,
                            column_config={"people": st.column_config.TextColumn(
                                "People (comma-separated)", max_chars=2000),
                                "name": st.column_config.TextColumn("Name", max_chars=people.MAX_NAME_CHARS),
                                "responsibility": st.column_config.TextColumn(
                                    "Responsibility", max_chars=people.MAX_RESPONSIBILITY_CHARS)})
    changes = changed_rows(frame, edited, ["name", "responsibility", "people"])
    if changes:
        def save():
            for position, fields in changes.items():
                people.update_role(store(), frame.iloc[position]["id"], **fields)
        apply(save, f"Saved {len(changes)} role(s).", "roles")


def _matrix(ws: Workspace, row_type: str, row_ids: list[str], key: str) -> None:
    roles = list(ws.profiles)
    names = {p.id: p.name for p in ws.profiles.values()}
    records = []
    for row_id in row_ids:
        cells = ws.raci.rows[(row_type, row_id)]
        records.append({"row": people.row_name(row_type, row_id), **{r: cells.get(r, EMPTY) for r in roles},
                        "edited": (row_type, row_id) in ws.raci.edited})
    frame = pd.DataFrame(records)
    extra = {v for r in records for k, v in r.items() if k in roles} - set(BASE_LETTERS)
    options = BASE_LETTERS + sorted(extra)
    config = {r: st.column_config.SelectboxColumn(names[r], options=options, width="small") for r in roles}
    config["row"] = st.column_config.TextColumn("Stage" if row_type == "stage" else "Control", width="large")
    edited = st.data_editor(frame, key=f"{key}:{ws.pipeline.id}:{revision('raci')}", hide_index=True,
                            width="stretch", column_config=config,
                            disabled=["row", "edited"] if editable(ws.pipeline.id) else True)
    changes = changed_rows(frame, edited, roles)
    if changes:
        rows = {}
        for position in changes:
            values = edited.iloc[position]
            rows[(row_type, row_ids[position])] = {r: values[r] for r in roles if values[r] and values[r] != EMPTY}
        apply(lambda: people.set_raci_rows(store(), ws.pipeline.id, rows), f"Saved {len(rows)} RACI row(s).", "raci")


def raci_panel(ws: Workspace) -> None:
    """RACI per lifecycle stage and per control, and import/export."""
    st.caption(" · ".join(f"**{k}** {v}" for k, v in RACI_NAMES.items())
               + " — exactly one accountable role per row; two is refused.")
    _matrix(ws, "stage", [s.id for s in lifecycle_stages()], "raci_stages")
    with st.expander("RACI per control"):
        _matrix(ws, "control", list(load_controls()), "raci_controls")
    left, right = st.columns(2)
    left.download_button("Export RACI (YAML)", people.export_raci(ws.raci), f"{ws.pipeline.id}-raci.yaml",
                         "application/yaml", key="raci_export")
    with right.popover("Import RACI", disabled=not editable(ws.pipeline.id)):
        upload = st.file_uploader("RACI file (YAML/JSON as exported, or CSV row_type,row_id,<role ids>)",
                                  type=["yaml", "yml", "json", "csv"], key="raci_import")
        if upload is not None and st.button("Apply import", key="raci_import_apply"):
            fmt = {"yml": "yaml"}.get(upload.name.rsplit(".", 1)[-1].lower(), upload.name.rsplit(".", 1)[-1].lower())
            text = upload.getvalue().decode("utf-8", errors="replace")
            apply(lambda: people.import_raci(store(), ws.pipeline.id, text, fmt),
                  f"Imported RACI from {upload.name}.", "raci")


def people_tab(ws: Workspace) -> None:
    """The People tab."""
    st.subheader("Accountability gaps")
    gaps_panel(ws)
    st.subheader("Roles and people")
    roles_editor(ws)
    st.subheader("RACI")
    raci_panel(ws)
