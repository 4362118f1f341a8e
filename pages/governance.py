"""Governance: the PTPGC workspace of the chosen pipeline: people and RACI, controls and
tooling, lifecycle gates, compliance coverage and maturity, provenance, and the history."""

import streamlit as st

from secmlops_core.ui import governance_common as common
from secmlops_core.ui.governance_controls import compliance_tab, technology_tab
from secmlops_core.ui.governance_people import people_tab
from secmlops_core.ui.governance_processes import processes_tab
from secmlops_core.ui.governance_provenance import provenance_tab
from secmlops_core.ui.pipeline_picker import pick_pipeline
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Governance")
pipeline = pick_pipeline()
if pipeline is None:
    st.info("No pipeline is stored yet: create one in the Pipeline designer.")
    st.stop()

ws = common.load(common.pick_version(pipeline))
common.summary(ws)
common.confirmation()

people, technology, processes, compliance, provenance = st.tabs(
    ["People", "Technology", "Processes", "Governance & Compliance", "Provenance"])
with people:
    people_tab(ws)
with technology:
    technology_tab(ws)
with processes:
    processes_tab(ws)
with compliance:
    compliance_tab(ws)
with provenance:
    provenance_tab(ws)
with st.expander("History of governance changes"):
    common.history_panel(ws.pipeline.id)
