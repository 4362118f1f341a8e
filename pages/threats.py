"""Threats: STRIDE threats of the chosen pipeline, risk register, heat map, attack paths,
controls, workshop questions and reports."""

import streamlit as st

from secmlops_core.ui import threats_view as ui
from secmlops_core.ui.pipeline_picker import pick_pipeline
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Threats")
pipeline = pick_pipeline()
if pipeline is None:
    st.info("No pipeline is stored yet: create one in the Pipeline designer.")
    st.stop()

catalog = ui.sidebar_rules()
assessment, sync = ui.load_assessment(pipeline, catalog)
ui.summary(assessment, sync)

register, heatmap, graph, drilldown, controls, workshop, reports = st.tabs(
    ["Register", "Heat map", "Graph and attack paths", "Stage drill-down", "Controls", "Workshop", "Reports"])
with register:
    ui.register_table(assessment)
    ui.decision_form(assessment)
    ui.suppressed_and_vanished(assessment)
with heatmap:
    ui.heatmap_panel(assessment)
with graph:
    ui.graph_panel(assessment)
with drilldown:
    ui.stage_drilldown(assessment)
with controls:
    ui.controls_panel(assessment)
with workshop:
    ui.workshop_panel(assessment)
with reports:
    ui.downloads_panel(assessment)
