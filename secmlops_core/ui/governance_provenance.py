"""Provenance tab: the chain behind the deployed detector, approvals, dataset hashes and the
pipeline's link to the live detector."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from secmlops_core.access.policy import can
from secmlops_core.governance import provenance
from secmlops_core.governance.workspace import Workspace
from secmlops_core.ui.governance_common import apply, editable
from secmlops_core.ui.shell import store
from secmlops_core.ui.text import escape_markdown

LINK_ICONS = {provenance.OK: ":green[:material/check_circle:]", provenance.BROKEN: ":red[:material/cancel:]",
              provenance.MISSING: ":gray[:material/radio_button_unchecked:]"}


def chain_panel(ws: Workspace) -> None:
    """The four links of the chain, each with its status and detail."""
    chain = ws.chain
    if chain.intact:
        st.success("Provenance chain intact: weights hash → registry entry → approval → deployment.")
    else:
        st.warning("Provenance chain incomplete: see the links below.")
    for column, link in zip(st.columns(len(chain.links)), chain.links):
        with column.container(border=True):
            st.markdown(f"{LINK_ICONS[link.status]} **{link.step}**")
            st.caption(escape_markdown(link.detail))


def records_panel(ws: Workspace) -> None:
    """Approvals, registry promotions, dataset hashes and live deployments."""
    chain = ws.chain
    rows = [{"record": f"{a.kind}: {a.weights_id}", "sha256": a.sha256, "by": a.approved_by, "at": a.approved_at,
             "note": a.note, "evidence": a.evidence_id} for a in (*chain.approvals, *chain.promotions)]
    rows += [{"record": f"dataset: {d.name}", "sha256": d.sha256, "by": d.recorded_by, "at": d.recorded_at,
              "note": f"{d.files} file(s), {d.size_bytes} bytes, {d.path}", "evidence": d.evidence_id}
             for d in chain.datasets]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="provenance_records")
    else:
        st.info("No approval, promotion or dataset hash recorded yet.")
    if chain.deployments:
        st.dataframe(pd.DataFrame([{"model": d.model_id, "sha256": d.sha256, "frames (24 h)": d.frames,
                                    "last seen": d.last_seen} for d in chain.deployments]),
                     hide_index=True, width="stretch", key="provenance_deployments")


def forms(ws: Workspace) -> None:
    """Approve the deployed weights, record a dataset hash, link the live detector."""
    pipeline_id = ws.pipeline.id
    left, right = st.columns(2)
    with left.form("approve_weights"):
        st.markdown(f"**Approve weights `{ws.chain.weights.weights_id}` for deployment**")
        note = st.text_area("Note", max_chars=provenance.MAX_NOTE_CHARS, key="approve_note")
        approved = st.form_submit_button("Approve (re-hashes the file first)",
                                         disabled=not (editable(pipeline_id) and can("promote_models", pipeline_id)))
    if approved:
        apply(lambda: provenance.approve_weights(store(), pipeline_id, ws.chain.weights.weights_id, note),
              f"Approved {ws.chain.weights.weights_id}.")
    with right.form("dataset_hash"):
        st.markdown("**Record a dataset hash**")
        name = st.text_input("Dataset name", max_chars=120, key="dataset_name")
        path = st.text_input("File or folder on the server", key="dataset_path",
                             help=f"A folder is hashed as a manifest of its files (at most {provenance.MAX_FILES}).")
        recorded = st.form_submit_button("Hash and record", disabled=not editable(pipeline_id))
    if recorded:
        apply(lambda: provenance.record_dataset_hash(store(), pipeline_id, name, path), f"Recorded dataset {name}.")
    linked = st.toggle("This pipeline deploys the studio's live detector", value=ws.live_detector,
                       key=f"live_link:{pipeline_id}", disabled=not editable(pipeline_id),
                       help="Its unattached drift snapshots, attack-lab runs and all incidents then count as "
                            "this pipeline's evidence.")
    if linked != ws.live_detector:
        apply(lambda: provenance.set_live_detector_link(store(), pipeline_id, linked),
              "Linked to the live detector." if linked else "Unlinked from the live detector.")


def provenance_tab(ws: Workspace) -> None:
    """The Provenance tab."""
    chain_panel(ws)
    st.subheader("Records")
    records_panel(ws)
    forms(ws)
