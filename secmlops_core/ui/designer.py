"""Widgets of the pipeline designer page."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
from streamlit_flow import streamlit_flow

from secmlops_core.access.policy import can
from secmlops_core.catalog.vocabulary import property_specs, stage_kinds
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.pipeline import library
from secmlops_core.pipeline.importing import read_any_pipeline_bytes
from secmlops_core.pipeline.diff import diff_pipelines
from secmlops_core.pipeline.editing import PipelineEditor, unique_id
from secmlops_core.pipeline.formats import dumps_pipeline
from secmlops_core.pipeline.model import TRUST_LEVELS, Zone, kind_label
from secmlops_core.pipeline.threat_dragon import export_threat_dragon
from secmlops_core.ui.flow_adapter import apply_flow_state, to_flow_state
from secmlops_core.ui.pipeline_picker import SELECTED_KEY
from secmlops_core.ui.shell import settings, store
from secmlops_core.ui.text import escape_markdown

NO_ZONE = ""
# A refused or failed action (create, import, save): (action, file id or None, what, problems).
REFUSAL_KEY = "designer:refusal"
IMPORT_REPORT_KEY = "designer_import_report"


def _key(pipeline_id: str, name: str) -> str:
    return f"designer:{pipeline_id}:{name}"


def show_problems(exc: Exception | list[str], what: str = "The change was not applied") -> None:
    """Render a validation error (or its problems) as one line per problem (as literal text, never
    Markdown or HTML)."""
    problems = exc if isinstance(exc, list) else getattr(exc, "problems", None) or [str(exc)]
    st.error(f"{escape_markdown(what)}:\n\n" + "\n".join(f"- {escape_markdown(p)}" for p in problems[:20]),
             icon=":material/block:")


def remember_refusal(action: str, what: str, exc: Exception, file_id: str | None = None) -> None:
    """Keep a refused action's message until the person's next action (reruns nobody asked for,
    such as the graph component reporting its state, would otherwise wipe it)."""
    problems = getattr(exc, "problems", None) or [str(exc)]
    st.session_state[REFUSAL_KEY] = (action, file_id, what, list(problems))


def forget_refusal() -> None:
    """The person acted again: the previous refusal is no longer shown."""
    st.session_state.pop(REFUSAL_KEY, None)


def show_refusal(action: str, file_id: str | None = None) -> None:
    """Show the kept refusal of ``action`` (for imports: while the same file is chosen)."""
    kept = st.session_state.get(REFUSAL_KEY)
    if kept is None or kept[0] != action:
        return
    if action == "import" and kept[1] != file_id:  # another file chosen, or none: that is the next action
        forget_refusal()
        return
    show_problems(kept[3], kept[2])


def _file_id(upload) -> str | None:
    return None if upload is None else str(getattr(upload, "file_id", None) or (upload.name, upload.size))


def sidebar_pipeline_choice() -> str | None:
    """Sidebar: choose a stored pipeline, start one from a template, or import a file."""
    summaries = library.list_pipelines(store())
    ids = [s.pipeline_id for s in summaries]
    labels = {s.pipeline_id: f"{s.name} (v{s.latest_version})" for s in summaries}
    chosen = None
    if ids:
        current = st.session_state.get(SELECTED_KEY)
        chosen = st.sidebar.selectbox("Pipeline", ids, index=ids.index(current) if current in ids else 0,
                                      format_func=labels.__getitem__, key="designer_pipeline")
        st.session_state[SELECTED_KEY] = chosen

    if not can("edit_pipelines"):
        return chosen
    with st.sidebar.expander("New from template"):
        templates = library.list_templates()
        template_id = st.selectbox("Template", list(templates), key="designer_template",
                                   format_func=lambda t: library.load_template(t).name)
        new_name = st.text_input("Name", key="designer_new_name", max_chars=200)
        if st.button("Create pipeline", key="designer_create"):
            forget_refusal()
            pipeline = library.load_template(template_id)
            if new_name.strip():
                pipeline.name = new_name.strip()
                pipeline.id = unique_id(new_name, set(ids), "pipeline")
            elif pipeline.id in ids:
                pipeline.id = unique_id(pipeline.id, set(ids), "pipeline")
            try:
                library.save_version(store(), pipeline, f"from template {template_id}")
            except UserFacingError as exc:  # refused (e.g. a participant limited to other pipelines)
                remember_refusal("create", "The pipeline was not created", exc)
            else:
                st.session_state[SELECTED_KEY] = pipeline.id
                st.session_state.pop("designer_pipeline", None)
                st.rerun()
        show_refusal("create")

    with st.sidebar.expander("Import a file"):
        limit_mb = settings().max_pipeline_file_mb
        upload = st.file_uploader(f"Project YAML/JSON or Threat Dragon v2 JSON (max {limit_mb:g} MB)",
                                  type=["yaml", "yml", "json"], key="designer_upload")
        if upload is not None and st.button("Import", key="designer_import"):
            forget_refusal()
            try:
                pipeline, report = read_any_pipeline_bytes(upload.getvalue(), upload.name)
                library.save_version(store(), pipeline, f"imported from {upload.name}"[:120])
            except (ValidationFailed, UserFacingError) as exc:  # invalid, or refused
                remember_refusal("import", f"{upload.name} was not imported", exc, _file_id(upload))
            else:
                st.session_state[SELECTED_KEY] = pipeline.id
                st.session_state.pop("designer_pipeline", None)
                st.session_state[IMPORT_REPORT_KEY] = report.guesses + report.skipped if report else []
                st.rerun()
        show_refusal("import", _file_id(upload))
    return chosen


def get_editor(pipeline_id: str) -> PipelineEditor:
    """The session's editor for a pipeline, restored from a stored draft when there is one."""
    key = _key(pipeline_id, "editor")
    if key not in st.session_state:
        versions = library.list_versions(store(), pipeline_id)
        base = versions[0].version if versions else None
        draft = library.load_draft(store(), pipeline_id)
        if draft is not None:
            editor = PipelineEditor(draft.pipeline)
            editor.revision = 1
            st.session_state[_key(pipeline_id, "restored")] = draft.updated_at
        else:
            editor = PipelineEditor(library.latest(store(), pipeline_id))
        st.session_state[key] = editor
        st.session_state[_key(pipeline_id, "base")] = base
        st.session_state[_key(pipeline_id, "saved_rev")] = 0
    return st.session_state[key]


def notices(pipeline_id: str) -> None:
    """What the last import guessed or skipped, and unsaved changes restored from a draft."""
    for note in st.session_state.pop(IMPORT_REPORT_KEY, []):
        st.info(f"Import: {escape_markdown(note)}")
    restored = st.session_state.pop(_key(pipeline_id, "restored"), None)
    if restored is not None:
        st.info(f"Unsaved changes from {restored:%Y-%m-%d %H:%M} were restored. Save them as a version, or undo.")


def toolbar(pipeline_id: str, editor: PipelineEditor) -> None:
    """Auto-layout, undo, and saving the working copy as a new version with a label."""
    columns = st.columns([1, 1, 3, 1.2])
    if columns[0].button("Auto-layout", icon=":material/account_tree:"):
        editor.auto_layout()
        st.rerun()
    if columns[1].button("Undo", icon=":material/undo:", disabled=not editor.can_undo):
        editor.undo()
        st.rerun()
    label = columns[2].text_input("Version label", placeholder="e.g. after workshop 1", label_visibility="collapsed",
                                  max_chars=120, key=_key(pipeline_id, "label"))
    if columns[3].button("Save version", type="primary", icon=":material/save:"):
        forget_refusal()
        try:
            saved = library.save_version(store(), editor.pipeline, label or "saved in designer")
        except UserFacingError as exc:  # refused or invalid: a message that stays, not an exception box
            remember_refusal("save", "The version was not saved", exc)
        else:
            st.session_state[_key(pipeline_id, "base")] = saved.version
            st.session_state[_key(pipeline_id, "draft_rev")] = editor.revision
            st.toast(f"Saved version {saved.version} of {escape_markdown(editor.pipeline.name)}",
                     icon=":material/check_circle:")
    show_refusal("save")


def persist_draft(pipeline_id: str, editor: PipelineEditor) -> None:
    """Write the working copy to the store when it changed since the last write."""
    saved_key = _key(pipeline_id, "draft_rev")
    if editor.revision and can("edit_pipelines", pipeline_id) and st.session_state.get(saved_key) != editor.revision:
        library.save_draft(store(), editor.pipeline, st.session_state.get(_key(pipeline_id, "base")))
        st.session_state[saved_key] = editor.revision


def graph_editor(pipeline_id: str, editor: PipelineEditor, editable: bool = True) -> str | None:
    """Draw the graph (editable unless told otherwise); returns the id of the selected element."""
    state_key, rev_key = _key(pipeline_id, "flow"), _key(pipeline_id, "flow_rev")
    if st.session_state.get(rev_key) != editor.revision or state_key not in st.session_state:
        selected = st.session_state[state_key].selected_id if state_key in st.session_state else None
        st.session_state[state_key] = to_flow_state(editor.pipeline, selected)
        st.session_state[rev_key] = editor.revision
    previous = st.session_state[state_key]
    returned = streamlit_flow(
        f"flow-{pipeline_id}", previous, height=620, fit_view=True, show_controls=True, show_minimap=False,
        allow_new_edges=editable, get_node_on_click=True, get_edge_on_click=True, enable_edge_menu=editable,
        hide_watermark=True, min_zoom=0.1, style={"backgroundColor": "#0b1020"})
    if returned.timestamp != previous.timestamp and not editable:
        st.session_state[state_key] = returned
    elif returned.timestamp != previous.timestamp:
        changes = apply_flow_state(editor, returned)
        for error in changes.errors:
            st.toast(escape_markdown(error), icon=":material/block:")
        # The browser may answer with a graph older than the editor's (a change made in the
        # side panel while it was still sending); then the editor wins and the view is rebuilt.
        stale = {node.id for node in returned.nodes} != set(editor.pipeline.stage_index())
        if changes.structural or stale:
            st.session_state[state_key] = to_flow_state(editor.pipeline, returned.selected_id)
            st.session_state[rev_key] = editor.revision
            persist_draft(pipeline_id, editor)
            st.rerun()
        st.session_state[state_key] = returned
        st.session_state[rev_key] = editor.revision
    return st.session_state[state_key].selected_id


def _kind_options() -> list[str]:
    return list(stage_kinds())


def _kind_format(kind_id: str) -> str:
    kind = stage_kinds()[kind_id]
    return f"{kind.group} · {kind.label}"


def _zone_options(editor: PipelineEditor) -> list[str]:
    return [NO_ZONE] + [zone.id for zone in editor.pipeline.zones]


def _zone_format(editor: PipelineEditor):
    names = {zone.id: zone.name for zone in editor.pipeline.zones}
    return lambda zone_id: names.get(zone_id, "(no zone)")


def _apply(action, *args, **kwargs) -> bool:
    try:
        action(*args, **kwargs)
    except (ValidationFailed, UserFacingError, KeyError) as exc:
        show_problems(exc)
        return False
    return True


def add_stage_form(editor: PipelineEditor) -> None:
    """Palette: add a stage of any kind."""
    with st.form("add_stage", clear_on_submit=True, border=True):
        st.markdown("**Add a stage**")
        kind = st.selectbox("Kind", _kind_options(), format_func=_kind_format, key="add_stage_kind")
        name = st.text_input("Name", key="add_stage_name", max_chars=200)
        zone = st.selectbox("Trust zone", _zone_options(editor), format_func=_zone_format(editor),
                            key="add_stage_zone")
        if st.form_submit_button("Add stage", type="primary"):
            if _apply(editor.add_stage, kind, name.strip() or kind_label(kind), zone or None):
                st.rerun()


def add_flow_form(editor: PipelineEditor) -> None:
    """Connect two stages without dragging (keyboard-friendly)."""
    stage_ids = [s.id for s in editor.pipeline.stages]
    names = {s.id: s.name for s in editor.pipeline.stages}
    with st.form("add_flow", clear_on_submit=True, border=True):
        st.markdown("**Connect stages**")
        source = st.selectbox("From", stage_ids, format_func=names.get, key="add_flow_source")
        target = st.selectbox("To", stage_ids, format_func=names.get, key="add_flow_target")
        name = st.text_input("Flow name", key="add_flow_name", max_chars=200)
        if st.form_submit_button("Add flow") and source and target:
            if _apply(editor.add_flow, source, target, name.strip()):
                st.rerun()


def _property_widgets(specs: dict, values: dict, prefix: str) -> dict:
    chosen = {}
    for name, spec in specs.items():
        current = values.get(name, spec.default)
        key = f"{prefix}:{name}"
        if spec.type == "bool":
            chosen[name] = st.checkbox(name.replace("_", " "), value=bool(current), help=spec.meaning, key=key)
        elif spec.type == "enum":
            options = list(spec.values)
            chosen[name] = st.selectbox(name.replace("_", " "), options, help=spec.meaning, key=key,
                                        index=options.index(current) if current in options else 0)
        else:
            chosen[name] = st.text_input(name.replace("_", " "), value=str(current or ""), help=spec.meaning,
                                         key=key, max_chars=2000)
    # Keep only what differs from the catalog default, plus what was explicitly set before.
    return {name: value for name, value in chosen.items()
            if value != specs[name].default or name in values}


def element_panel(editor: PipelineEditor, selected_id: str | None, pipeline_id: str) -> None:
    """Edit the selected stage or flow: name, kind, zone, properties; delete it."""
    stages = editor.pipeline.stage_index()
    flows = {f.id: f for f in editor.pipeline.flows}
    options = [""] + list(stages) + list(flows)
    labels = {**{sid: f"Stage · {s.name}" for sid, s in stages.items()},
              **{fid: f"Flow · {stages[f.source].name} → {stages[f.target].name}" for fid, f in flows.items()},
              "": "(click a stage or flow, or choose here)"}
    picker_key = _key(pipeline_id, "element")
    if selected_id in labels and st.session_state.get(_key(pipeline_id, "last_click")) != selected_id:
        st.session_state[picker_key] = selected_id
        st.session_state[_key(pipeline_id, "last_click")] = selected_id
    if st.session_state.get(picker_key) not in labels:
        st.session_state[picker_key] = ""
    element_id = st.selectbox("Edit", options, format_func=labels.__getitem__, key=picker_key)
    if element_id in stages:
        stage = stages[element_id]
        prefix = f"{pipeline_id}:{element_id}:{editor.revision}"
        with st.form(f"stage_form:{prefix}", border=True):
            st.caption(f"Stage id: {escape_markdown(stage.id)}")
            name = st.text_input("Name", value=stage.name, max_chars=200)
            kinds = _kind_options()
            kind = st.selectbox("Kind", kinds, index=kinds.index(stage.kind), format_func=_kind_format)
            zones = _zone_options(editor)
            zone = st.selectbox("Trust zone", zones, index=zones.index(stage.zone or NO_ZONE),
                                format_func=_zone_format(editor))
            description = st.text_area("Description", value=stage.description, max_chars=5000)
            properties = _property_widgets(property_specs()["stage"], stage.properties, prefix)
            if st.form_submit_button("Apply", type="primary"):
                if _apply(editor.update_stage, element_id, name=name.strip(), kind=kind, zone=zone or None,
                          description=description, properties=properties):
                    st.rerun()
        if st.button("Delete stage", key=f"delete_stage:{prefix}"):
            if _apply(editor.remove_stage, element_id):
                st.session_state[picker_key] = ""
                st.rerun()
    elif element_id in flows:
        flow = flows[element_id]
        prefix = f"{pipeline_id}:{element_id}:{editor.revision}"
        crossing = editor.pipeline.crosses_boundary(flow)
        with st.form(f"flow_form:{prefix}", border=True):
            st.caption(f"Flow id: {escape_markdown(flow.id)} · "
                       f"{'crosses a trust boundary' if crossing else 'inside one zone'}")
            name = st.text_input("Name", value=flow.name, max_chars=200)
            description = st.text_area("Description", value=flow.description, max_chars=5000)
            properties = _property_widgets(property_specs()["flow"], flow.properties, prefix)
            if st.form_submit_button("Apply", type="primary"):
                if _apply(editor.update_flow, element_id, name=name.strip(), description=description,
                          properties=properties):
                    st.rerun()
        if st.button("Delete flow", key=f"delete_flow:{prefix}"):
            if _apply(editor.remove_flow, element_id):
                st.session_state[picker_key] = ""
                st.rerun()


def zones_editor(editor: PipelineEditor, pipeline_id: str) -> None:
    """Edit the list of trust zones as a table."""
    frame = pd.DataFrame([{"id": z.id, "name": z.name, "trust": z.trust, "description": z.description}
                          for z in editor.pipeline.zones], columns=["id", "name", "trust", "description"])
    edited = st.data_editor(
        frame, num_rows="dynamic", width="stretch", key=_key(pipeline_id, f"zones:{editor.revision}"),
        column_config={"trust": st.column_config.SelectboxColumn("trust", options=list(TRUST_LEVELS),
                                                                 required=True, default="medium")})
    if st.button("Apply zones", key=_key(pipeline_id, "apply_zones")):
        zones = [Zone(id=str(row["id"] or "").strip(), name=str(row["name"] or "").strip(),
                      trust=row["trust"] or "medium", description=str(row["description"] or ""))
                 for row in edited.fillna("").to_dict("records") if str(row["id"] or "").strip()]
        if _apply(editor.set_zones, zones):
            st.rerun()


def versions_panel(pipeline_id: str, editor: PipelineEditor) -> None:
    """Saved versions and the diff between any two (or a version and the working copy)."""
    versions = library.list_versions(store(), pipeline_id)
    st.dataframe(pd.DataFrame([{"version": v.version, "label": v.label, "author": v.author,
                                "saved": v.created_at, "sha256": v.sha256[:12]} for v in versions]),
                 hide_index=True, width="stretch")
    choices = ["working copy"] + [f"v{v.version}" for v in versions]
    left, right = st.columns(2)
    old = left.selectbox("From", choices, index=min(1, len(choices) - 1), key=_key(pipeline_id, "diff_old"))
    new = right.selectbox("To", choices, index=0, key=_key(pipeline_id, "diff_new"))

    def resolve(choice: str):
        return editor.pipeline if choice == "working copy" else library.load_version(
            store(), pipeline_id, int(choice[1:]))

    diff = diff_pipelines(resolve(old), resolve(new))
    if diff.is_empty:
        st.success("No differences in stages, flows, zones or properties.")
        return
    rows = [{"change": "added", "element": e, "id": i, "field": "", "before": "", "after": ""} for e, i in diff.added]
    rows += [{"change": "removed", "element": e, "id": i, "field": "", "before": "", "after": ""}
             for e, i in diff.removed]
    rows += [{"change": "changed", "element": c.element, "id": c.element_id, "field": c.field,
              "before": json.dumps(c.before), "after": json.dumps(c.after)} for c in diff.changed]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def downloads(editor: PipelineEditor) -> None:
    """Download the working copy in every supported format."""
    pipeline = editor.pipeline
    cols = st.columns(3)
    cols[0].download_button("YAML", dumps_pipeline(pipeline, "yaml"), f"{pipeline.id}.yaml", "application/yaml")
    cols[1].download_button("JSON", dumps_pipeline(pipeline, "json"), f"{pipeline.id}.json", "application/json")
    cols[2].download_button("Threat Dragon", json.dumps(export_threat_dragon(pipeline), indent=2),
                            f"{pipeline.id}.td.json", "application/json")


def elements_table(editor: PipelineEditor) -> None:
    """Stages and flows as plain tables (useful on large graphs)."""
    pipeline = editor.pipeline
    zones = pipeline.zone_index()
    st.dataframe(pd.DataFrame([{"id": s.id, "name": s.name, "kind": kind_label(s.kind),
                                "zone": zones[s.zone].name if s.zone in zones else "",
                                "properties": ", ".join(f"{k}={v}" for k, v in s.properties.items())}
                               for s in pipeline.stages]), hide_index=True, width="stretch")
    stages = pipeline.stage_index()
    st.dataframe(pd.DataFrame([{"id": f.id, "from": stages[f.source].name, "to": stages[f.target].name,
                                "name": f.name, "crosses boundary": pipeline.crosses_boundary(f, stages),
                                "properties": ", ".join(f"{k}={v}" for k, v in f.properties.items())}
                               for f in pipeline.flows]), hide_index=True, width="stretch")


def zones_table(editor: PipelineEditor) -> None:
    """The trust zones, read-only."""
    st.dataframe(pd.DataFrame([{"id": z.id, "name": z.name, "trust": z.trust, "description": z.description}
                               for z in editor.pipeline.zones]), hide_index=True, width="stretch")
