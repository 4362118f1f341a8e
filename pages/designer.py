"""Pipeline designer: draw the MLOps pipeline as a graph, edit, version and exchange it."""

import streamlit as st

from secmlops_core.access.policy import can
from secmlops_core.errors import UserFacingError
from secmlops_core.pipeline import library
from secmlops_core.ui import designer as ui
from secmlops_core.ui.shell import page_guard, store
from secmlops_core.ui.text import escape_markdown

page_guard(__file__)
st.title("Pipeline designer")
pipeline_id = ui.sidebar_pipeline_choice()
if pipeline_id is None:
    st.info("No pipeline is stored yet. Create one from a template or import a file in the sidebar.")
    st.stop()

for note in st.session_state.pop("designer_import_report", []):
    st.info(f"Import: {escape_markdown(note)}")

editor = ui.get_editor(pipeline_id)
restored = st.session_state.pop(f"designer:{pipeline_id}:restored", None)
if restored is not None:
    st.info(f"Unsaved changes from {restored:%Y-%m-%d %H:%M} were restored. Save them as a version, or undo.")

pipeline = editor.pipeline
editable = can("edit_pipelines", pipeline_id)
if not editable:
    st.info("Read-only: your role may look at this pipeline but not change it.")
st.caption(f"{escape_markdown(pipeline.name)} · {len(pipeline.stages)} stages · {len(pipeline.flows)} flows · "
           f"{len(pipeline.zones)} trust zones · drag between handles to connect; "
           "orange animated flows cross a trust boundary")

if editable:
    toolbar = st.columns([1, 1, 3, 1.2])
    if toolbar[0].button("Auto-layout", icon=":material/account_tree:"):
        editor.auto_layout()
        st.rerun()
    if toolbar[1].button("Undo", icon=":material/undo:", disabled=not editor.can_undo):
        editor.undo()
        st.rerun()
    label = toolbar[2].text_input("Version label", placeholder="e.g. after workshop 1",
                                  label_visibility="collapsed", max_chars=120, key=f"designer:{pipeline_id}:label")
    if toolbar[3].button("Save version", type="primary", icon=":material/save:"):
        ui.forget_refusal()
        try:
            saved = library.save_version(store(), editor.pipeline, label or "saved in designer")
        except UserFacingError as exc:  # refused or invalid: a message that stays, not an exception box
            ui.remember_refusal("save", "The version was not saved", exc)
        else:
            st.session_state[f"designer:{pipeline_id}:base"] = saved.version
            st.session_state[f"designer:{pipeline_id}:draft_rev"] = editor.revision
            st.toast(f"Saved version {saved.version} of {escape_markdown(pipeline.name)}", icon="✅")
    ui.show_refusal("save")

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
