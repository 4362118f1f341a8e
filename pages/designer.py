"""Pipeline designer: draw the MLOps pipeline as a graph, edit, version and exchange it."""

import streamlit as st

from secmlops_core.access.policy import can
from secmlops_core.ui import designer as ui
from secmlops_core.ui.shell import page_guard
from secmlops_core.ui.text import escape_markdown

page_guard(__file__)
st.title("Pipeline designer")
pipeline_id = ui.sidebar_pipeline_choice()
if pipeline_id is None:
    st.info("No pipeline is stored yet. Create one from a template or import a file in the sidebar.")
    st.stop()

editor = ui.get_editor(pipeline_id)
ui.notices(pipeline_id)

pipeline = editor.pipeline
editable = can("edit_pipelines", pipeline_id)
if not editable:
    st.info("Read-only: your role may look at this pipeline but not change it.")
st.caption(f"{escape_markdown(pipeline.name)} · {len(pipeline.stages)} stages · {len(pipeline.flows)} flows · "
           f"{len(pipeline.zones)} trust zones · drag between handles to connect; "
           "orange animated flows cross a trust boundary")

if editable:
    ui.toolbar(pipeline_id, editor)

canvas, panel = st.columns([3, 1.25]) if editable else (st.container(), None)
with canvas:
    selected = ui.graph_editor(pipeline_id, editor, editable)
if panel is not None:
    with panel:
        ui.element_panel(editor, selected, pipeline_id)
        ui.add_stage_form(editor)
        ui.add_flow_form(editor)
    ui.persist_draft(pipeline_id, editor)

tabs = st.tabs(["Versions and diff", "Trust zones", "Stages and flows", "Download"])
with tabs[0]:
    ui.versions_panel(pipeline_id, editor)
with tabs[1]:
    if editable:
        ui.zones_editor(editor, pipeline_id)
    else:
        ui.zones_table(editor)
with tabs[2]:
    ui.elements_table(editor)
with tabs[3]:
    ui.downloads(editor)
