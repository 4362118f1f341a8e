"""Widgets of the Threats page: register table, heat map, risk graph, drill-down, controls,
workshop questions and report downloads. All logic lives in secmlops_core.threats.
"""

from __future__ import annotations

from html import escape

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from secmlops_core.catalog.loading import load_catalog
from secmlops_core.catalog.model import Catalog
from secmlops_core.errors import UserFacingError, ValidationFailed
from secmlops_core.pipeline import library
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.reports.render import FORMATS, file_name, render
from secmlops_core.reports.svg import BAND_COLORS, PATH_COLOR, stage_positions
from secmlops_core.reports.threat_report import control_rows
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import AssessedThreat, Assessment, ThreatFilter, assess_stored
from secmlops_core.threats.paths import blast_radius
from secmlops_core.threats.risk import BANDS, matrix_bands
from secmlops_core.threats.workshop import apply_answers, changed_answers, stage_questions
from secmlops_core.ui.shell import acting_principal, store
from secmlops_core.ui.text import escape_markdown

USER_RULES_KEY = "threats_user_rules"
STATUS_LABELS = {"open": "open", "in_progress": "in progress", "mitigated": "mitigated", "accepted": "accepted",
                 "transferred": "transferred", "false_positive": "false positive"}


def author() -> str:
    """Who is making changes: the principal acting in this run."""
    return acting_principal().label


def show_problems(exc: Exception, what: str = "The change was not applied") -> None:
    """Render validation problems as literal text lines (they may quote user text)."""
    problems = getattr(exc, "problems", None) or [str(exc)]
    st.error(f"{escape_markdown(what)}:\n\n" + "\n".join(f"- {escape_markdown(p)}" for p in problems[:20]),
             icon=":material/block:")


def _revision(name: str) -> int:
    return st.session_state.get(f"threats_rev:{name}", 0)


def _bump(name: str) -> None:
    st.session_state[f"threats_rev:{name}"] = _revision(name) + 1


# ----------------------------------------------------------------------------- loading
def sidebar_rules() -> Catalog:
    """Sidebar: optional user rule file (validated); the built-in catalog stays in force on errors."""
    with st.sidebar.expander("Custom threat rules"):
        upload = st.file_uploader("Rules YAML (add, replace or disable rules; assumptions)", type=["yaml", "yml"],
                                  key="threats_rules_upload")
        if upload is not None:
            text = upload.getvalue().decode("utf-8", errors="replace")
            try:
                load_catalog(user_text=text, source_name=upload.name)
            except (ValidationFailed, UserFacingError) as exc:
                show_problems(exc, f"{upload.name} was not loaded; the built-in catalog is used")
            else:
                st.session_state[USER_RULES_KEY] = (upload.name, text)
        loaded = st.session_state.get(USER_RULES_KEY)
        if loaded:
            st.caption(f"Using {escape_markdown(loaded[0])} in your view only: the shared register keeps "
                       "the built-in rules, and your file changes nothing in it.")
            if st.button("Use built-in rules only", key="threats_rules_reset"):
                st.session_state.pop(USER_RULES_KEY, None)
                st.rerun()
    loaded = st.session_state.get(USER_RULES_KEY)
    if loaded:
        return load_catalog(user_text=loaded[1], source_name=loaded[0])
    return load_catalog()


def load_assessment(pipeline: Pipeline, catalog: Catalog) -> tuple[Assessment, reg.SyncResult]:
    """Generate and assess; the shared register is synced only for people who may edit threats and
    only from the shared catalog (fast enough to run on every rerun)."""
    versions = library.list_versions(store(), pipeline.id)
    version = versions[0].version if versions else None
    return assess_stored(store(), pipeline, catalog, pipeline_version=version, author=author())


def summary(assessment: Assessment, sync: reg.SyncResult) -> None:
    """Caption, change notice and one metric per band."""
    pipeline = assessment.pipeline
    st.caption(f"{escape_markdown(pipeline.name)} · {len(assessment.threats)} threats from "
               f"{len(assessment.catalog.rules)} rules · {len(assessment.open_threats())} open · "
               f"{len(assessment.suppressed)} suppressed · generation {assessment.generation}")
    new = sum(1 for t in assessment.threats if t.is_new)
    if new or assessment.vanished:
        st.info(f"Since the previous generation: {new} new threat(s), {len(assessment.vanished)} vanished "
                "(decisions on vanished threats are kept and return with them).", icon=":material/update:")
    counts = assessment.band_counts()
    for column, band in zip(st.columns(len(BANDS)), reversed(BANDS)):
        column.metric(f"Open · {band}", counts[band])


# ----------------------------------------------------------------------------- register
def _owner_options(catalog: Catalog) -> dict[str, str]:
    return {role.name: role_id for role_id, role in catalog.roles.items()}


def threat_label(item: AssessedThreat) -> str:
    """One-line label of a threat for pickers."""
    threat = item.threat
    return f"{threat.rule.title} — {threat.element_type} {threat.element_id} ({item.residual_risk.band})"


def filter_threats(assessment: Assessment) -> list[AssessedThreat]:
    """Filter widgets (stage, STRIDE, band, status, owner); returns the matching threats."""
    catalog = assessment.catalog
    stage_names = {s.id: s.name for s in assessment.pipeline.stages}
    columns = st.columns(5)
    stages = columns[0].multiselect("Stage", list(stage_names), format_func=stage_names.__getitem__,
                                    key="threats_filter_stage")
    stride = columns[1].multiselect("STRIDE", list(catalog.references.stride),
                                    format_func=lambda s: f"{s} · {catalog.references.stride[s]}",
                                    key="threats_filter_stride")
    bands = columns[2].multiselect("Residual band", list(reversed(BANDS)), key="threats_filter_band")
    statuses = columns[3].multiselect("Status", list(reg.STATUSES), format_func=STATUS_LABELS.__getitem__,
                                      key="threats_filter_status")
    owners = columns[4].multiselect("Owner", list(catalog.roles), format_func=catalog.owner_name,
                                    key="threats_filter_owner")
    return assessment.filtered(ThreatFilter(frozenset(stages), frozenset(stride), frozenset(bands),
                                            frozenset(statuses), frozenset(owners)))


def register_table(assessment: Assessment) -> None:
    """The filtered register with inline edits of status, owner, justification, ticket and due date."""
    catalog = assessment.catalog
    items = filter_threats(assessment)
    st.caption(f"{len(items)} of {len(assessment.threats)} threats. Edit status, owner, justification, ticket and "
               "due date in place; accepted, transferred and false-positive decisions need a justification.")
    if not items:
        st.info("No threat matches the filters.")
        return
    owners = _owner_options(catalog)
    frame = pd.DataFrame([{
        "id": item.id, "new": item.is_new, "threat": item.threat.rule.title,
        "element": f"{item.threat.element_type}: {item.threat.element_id}", "STRIDE": item.threat.rule.stride,
        "band": item.residual_risk.band, "score": item.residual_risk.score, "status": item.status,
        "owner": catalog.owner_name(item.owner_role), "justification": item.justification, "ticket": item.ticket,
        "due": item.due_date} for item in items])
    frame["due"] = pd.to_datetime(frame["due"]).dt.date
    edited = st.data_editor(
        frame, key=f"threats_register:{assessment.pipeline.id}:{_revision('register')}", hide_index=True,
        width="stretch", disabled=["id", "new", "threat", "element", "STRIDE", "band", "score"],
        column_config={
            "id": st.column_config.TextColumn("Threat id", width="small"),
            "new": st.column_config.CheckboxColumn("New", width="small"),
            "score": st.column_config.NumberColumn("Residual", width="small"),
            "status": st.column_config.SelectboxColumn("Status", options=list(reg.STATUSES), required=True),
            "owner": st.column_config.SelectboxColumn("Owner", options=list(owners), required=True),
            "justification": st.column_config.TextColumn("Justification", max_chars=reg.MAX_JUSTIFICATION_CHARS),
            "ticket": st.column_config.TextColumn("Ticket", max_chars=reg.MAX_TICKET_CHARS),
            "due": st.column_config.DateColumn("Due"),
        })
    changes = register_changes(frame, edited, owners)
    if changes:
        save_register_changes(assessment.pipeline.id, changes)


def register_changes(before: pd.DataFrame, after: pd.DataFrame, owners: dict[str, str]) -> dict[str, dict]:
    """Field changes per threat id between the shown and the edited table."""
    fields = {"status": "status", "owner": "owner_role", "justification": "justification", "ticket": "ticket",
              "due": "due_date"}
    changes: dict[str, dict] = {}
    for (_, old), (_, new) in zip(before.iterrows(), after.iterrows()):
        for column, name in fields.items():
            old_value, new_value = old[column], new[column]
            if pd.isna(old_value) and pd.isna(new_value):
                continue
            if column in ("justification", "ticket"):
                old_value, new_value = old_value or "", "" if pd.isna(new_value) else new_value
            if old_value != new_value:
                value = owners.get(new_value, new_value) if column == "owner" else new_value
                changes.setdefault(old["id"], {})[name] = None if column == "due" and pd.isna(value) else value
    return changes


def save_register_changes(pipeline_id: str, changes: dict[str, dict]) -> None:
    """Write edits to the register, then rerun so every view shows them."""
    try:
        reg.update_entries(store(), pipeline_id, changes, author=author())
    except (ValidationFailed, UserFacingError) as exc:
        show_problems(exc)
        if st.button("Discard these edits", key="threats_register_discard"):
            _bump("register")
            st.rerun()
        return
    _bump("register")
    st.toast(f"Saved {len(changes)} register change(s)", icon=":material/check_circle:")
    st.rerun()


def decision_form(assessment: Assessment) -> None:
    """A form to decide on one threat (same effect as editing the table)."""
    catalog = assessment.catalog
    items = {item.id: item for item in assessment.threats}
    if not items:
        return
    with st.expander("Decide on one threat", expanded=False):
        chosen = st.selectbox("Threat", list(items), format_func=lambda i: threat_label(items[i]),
                              key="decision_threat")
        item = items[chosen]
        with st.form("threat_decision"):
            status = st.selectbox("Status", list(reg.STATUSES), index=reg.STATUSES.index(item.status),
                                  format_func=STATUS_LABELS.__getitem__, key=f"decision_status:{chosen}")
            owner = st.selectbox("Owner", list(catalog.roles), index=list(catalog.roles).index(item.owner_role)
                                 if item.owner_role in catalog.roles else 0, format_func=catalog.owner_name,
                                 key=f"decision_owner:{chosen}")
            justification = st.text_area("Justification", value=item.justification,
                                         max_chars=reg.MAX_JUSTIFICATION_CHARS, key=f"decision_justification:{chosen}")
            ticket = st.text_input("Ticket (key or https link)", value=item.ticket, max_chars=reg.MAX_TICKET_CHARS,
                                   key=f"decision_ticket:{chosen}")
            due = st.date_input("Due date", value=item.due_date, key=f"decision_due:{chosen}")
            submitted = st.form_submit_button("Save decision", type="primary")
        if submitted:  # outside the form: a refusal offers a (non-form) "Discard these edits" button
            save_register_changes(assessment.pipeline.id, {chosen: {
                "status": status, "owner_role": owner, "justification": justification, "ticket": ticket,
                "due_date": due}})
        entries = reg.history(store(), assessment.pipeline.id, chosen, limit=50)
        if entries:
            st.caption("History of this threat")
            st.dataframe(pd.DataFrame([{"when": e.changed_at, "who": e.changed_by, "field": e.field,
                                        "from": e.old_value, "to": e.new_value} for e in entries]),
                         hide_index=True, width="stretch")


def suppressed_and_vanished(assessment: Assessment) -> None:
    """Expanders listing suppressed and vanished threats."""
    if assessment.suppressed:
        with st.expander(f"Suppressed threats ({len(assessment.suppressed)})"):
            st.dataframe(pd.DataFrame([{"threat": t.rule.title, "element": t.element_id, "reason": t.suppressed_by,
                                        "id": t.id} for t in assessment.suppressed]),
                         hide_index=True, width="stretch")
    if assessment.vanished:
        with st.expander(f"Vanished threats ({len(assessment.vanished)})"):
            st.dataframe(pd.DataFrame([{"threat": v.title, "element": v.element_id, "status": v.status,
                                        "id": v.threat_id} for v in assessment.vanished]),
                         hide_index=True, width="stretch")


# ----------------------------------------------------------------------------- charts
def heatmap_figure(grid: list[list[int]]) -> go.Figure:
    """Plotly heat map: cells coloured by band, labelled with threat counts."""
    bands = matrix_bands()
    z = [[BANDS.index(band) for band in row] for row in bands]
    scale = []
    for index, band in enumerate(BANDS):
        scale += [(index / len(BANDS), BAND_COLORS[band]), ((index + 1) / len(BANDS), BAND_COLORS[band])]
    figure = go.Figure(go.Heatmap(
        z=z, x=[f"I{i}" for i in range(1, 6)], y=[f"L{i}" for i in range(5, 0, -1)], zmin=-0.5,
        zmax=len(BANDS) - 0.5, colorscale=scale, showscale=False, text=[[str(c) if c else "" for c in row] for row in grid],
        texttemplate="%{text}", textfont={"size": 20, "color": "white"},
        customdata=[[f"{bands[r][c]}: {grid[r][c]} threat(s)" for c in range(5)] for r in range(5)],
        hovertemplate="%{y} × %{x}<br>%{customdata}<extra></extra>", xgap=3, ygap=3))
    figure.update_layout(height=420, margin={"l": 40, "r": 10, "t": 10, "b": 40},
                         xaxis_title="impact", yaxis_title="likelihood", yaxis={"autorange": "reversed"})
    return figure


def heatmap_panel(assessment: Assessment) -> None:
    """Heat map with a residual/inherent switch."""
    which = st.radio("Risk", ["residual", "inherent"], horizontal=True, key="threats_heatmap_kind")
    st.plotly_chart(heatmap_figure(assessment.heatmap(residual_risk=which == "residual")), width="stretch",
                    key="threats_heatmap")


def graph_figure(assessment: Assessment, highlighted: list) -> go.Figure:
    """The pipeline as a plotly network: stages coloured by worst open risk, chosen paths highlighted."""
    pipeline = assessment.pipeline
    positions = stage_positions(pipeline)
    bands = assessment.worst_band_by_stage()
    hot = {edge for path in highlighted for edge in zip(path.stages, path.stages[1:])}
    figure = go.Figure()
    for is_hot in (False, True):
        xs, ys = [], []
        for flow in pipeline.flows:
            if ((flow.source, flow.target) in hot) == is_hot:
                (x1, y1), (x2, y2) = positions[flow.source], positions[flow.target]
                xs += [x1, x2, None]
                ys += [-y1, -y2, None]
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                    line={"color": PATH_COLOR if is_hot else "#90a4ae", "width": 5 if is_hot else 1.5}))
    counts = assessment.open_counts_by_stage()
    for band in ("none", *BANDS):
        members = [s for s in pipeline.stages if bands[s.id] == band]
        if not members:
            continue
        figure.add_trace(go.Scatter(
            x=[positions[s.id][0] for s in members], y=[-positions[s.id][1] for s in members], mode="markers+text",
            name=band, marker={"size": 26, "color": BAND_COLORS[band], "line": {"width": 1, "color": "#263238"}},
            text=[escape(s.name[:22]) for s in members], textposition="bottom center",
            hovertext=[f"{escape(s.name)} ({escape(s.kind)})<br>worst open risk: {band}<br>"
                       f"{counts.get(s.id, 0)} open threat(s)" for s in members], hoverinfo="text"))
    figure.update_layout(height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend_title="worst open risk",
                         xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="rgba(0,0,0,0)")
    return figure


def graph_panel(assessment: Assessment) -> None:
    """Risk-coloured graph, attack-path table and picker, blast radius of a chosen stage."""
    paths = list(assessment.paths)
    labels = {i: f"#{i + 1} {p.entry} → {p.asset} · mean step risk {p.score} ({p.band}) · {len(p.flows)} step(s)"
              for i, p in enumerate(paths)}
    chosen = st.multiselect("Highlight attack paths", list(labels), default=list(labels)[:3],
                            format_func=labels.__getitem__, key="threats_paths") if paths else []
    st.plotly_chart(graph_figure(assessment, [paths[i] for i in chosen]), width="stretch",
                    key="threats_graph")
    if not paths:
        st.info("No path leads from an entry point to a crown jewel.")
    else:
        st.dataframe(pd.DataFrame([{"entry": p.entry, "crown jewel": f"{p.asset} ({p.asset_kind})",
                                    "path": " → ".join(p.stages), "mean step risk": p.score, "band": p.band}
                                   for p in paths]), hide_index=True, width="stretch")
    names = {s.id: s.name for s in assessment.pipeline.stages}
    compromised = st.selectbox("Blast radius if this stage is compromised", list(names),
                               format_func=names.__getitem__, key="threats_blast_stage")
    scores = [(t.threat.element_type, t.threat.element_id, t.residual_risk.score) for t in assessment.open_threats()]
    radius = blast_radius(assessment.pipeline, compromised, scores)
    st.markdown(f"Reaches **{len(radius.reachable)}** stage(s) downstream, **{len(radius.assets)}** crown jewel(s), "
                f"**{radius.threats_in_reach}** open threat(s) in reach.")
    if radius.assets:
        st.caption("Crown jewels in reach: " + ", ".join(escape_markdown(names[a]) for a in radius.assets))


# ----------------------------------------------------------------------------- drill-down and controls
def stage_drilldown(assessment: Assessment) -> None:
    """Threats of one stage (and the flows touching it) with reasons, controls and references."""
    catalog = assessment.catalog
    names = {s.id: s.name for s in assessment.pipeline.stages}
    stage_id = st.selectbox("Stage", list(names), format_func=names.__getitem__, key="threats_drill_stage")
    items = [t for t in assessment.threats if stage_id in t.threat.stage_ids]
    st.caption(f"{len(items)} threat(s) on the stage and its flows")
    for item in items:
        threat, rule = item.threat, item.threat.rule
        with st.expander(f"{item.residual_risk.band.upper()} · {escape_markdown(rule.stride)} · "
                         f"{escape_markdown(rule.title)} ({threat.element_type} {escape_markdown(threat.element_id)})"):
            st.markdown(escape_markdown(rule.description))
            st.markdown("**Why it fired:** " + escape_markdown("; ".join(threat.because + threat.adjustments)))
            st.markdown(f"**Risk:** inherent {threat.risk.score} (L{threat.risk.likelihood} × I{threat.risk.impact}),"
                        f" residual {item.residual_risk.score} · **status** {STATUS_LABELS[item.status]} · "
                        f"**owner** {escape_markdown(catalog.owner_name(item.owner_role))}")
            st.dataframe(pd.DataFrame([{"control": c, "title": catalog.controls[c].title,
                                        "PTPGC": catalog.controls[c].ptpgc,
                                        "owner": catalog.owner_name(catalog.controls[c].owner),
                                        "implemented": c in item.implemented_controls} for c in rule.controls]),
                         hide_index=True, width="stretch")
            refs = [f"{a} {catalog.references.atlas[a]}" for a in rule.atlas]
            refs += [f"OWASP {o} {catalog.references.owasp_ml[o]}" for o in rule.owasp_ml]
            refs.append(f"NIST AI 100-2: {rule.nist_attack or 'n/a'} / {rule.nist_objective}")
            st.caption(" · ".join(escape_markdown(ref) for ref in refs))
            if rule.telemetry_signal or rule.demo:
                st.caption(f"Telemetry signal: {escape_markdown(rule.telemetry_signal or '—')} · "
                           f"attack-lab demo: {escape_markdown(rule.demo or '—')}")


def controls_panel(assessment: Assessment) -> None:
    """Controls recommended for open threats, with PTPGC, owner role and editable status."""
    rows = control_rows(assessment)
    if not rows:
        st.info("No open threat needs a control.")
        return
    notes = {cid: state.note for cid, state in assessment.control_status.items()}
    frame = pd.DataFrame([{"id": r["id"], "control": r["title"], "PTPGC": r["ptpgc"], "owner": r["owner_name"],
                           "open threats": r["open_threats"], "status": r["status"], "note": notes.get(r["id"], "")}
                          for r in rows])
    edited = st.data_editor(frame, key=f"threats_controls:{assessment.pipeline.id}:{_revision('controls')}",
                            hide_index=True, width="stretch",
                            disabled=["id", "control", "PTPGC", "owner", "open threats"],
                            column_config={"status": st.column_config.SelectboxColumn(
                                "Status", options=list(reg.CONTROL_STATUSES), required=True),
                                "note": st.column_config.TextColumn("Note", max_chars=reg.MAX_JUSTIFICATION_CHARS)})
    changes = {}
    for (_, old), (_, new) in zip(frame.iterrows(), edited.iterrows()):
        fields = {name: new[name] for name in ("status", "note") if (new[name] or "") != (old[name] or "")}
        if fields:
            changes[old["id"]] = fields
    st.caption("Controls marked implemented lower the residual risk of every threat that lists them.")
    if changes:
        try:
            reg.set_control_states(store(), assessment.pipeline.id, changes, author=author())
        except (ValidationFailed, UserFacingError) as exc:
            show_problems(exc)
            return
        _bump("controls")
        st.toast(f"Saved {len(changes)} control status change(s)", icon=":material/check_circle:")
        st.rerun()


# ----------------------------------------------------------------------------- workshop and reports
def workshop_panel(assessment: Assessment) -> None:
    """Per-stage questions; answers are saved as a new pipeline version and threats regenerate."""
    pipeline, catalog = assessment.pipeline, assessment.catalog
    names = {s.id: s.name for s in pipeline.stages}
    stage_id = st.selectbox("Stage", list(names), format_func=names.__getitem__, key="workshop_stage")
    questions = stage_questions(pipeline, stage_id, catalog)
    if not questions:
        st.info("No rule for this kind of stage depends on its properties.")
        return
    st.caption("Answer for this stage; saving stores a new pipeline version and regenerates the threats.")
    with st.form(f"workshop_answers:{stage_id}"):
        answers = {}
        for question in questions:
            spec = question.spec
            key = f"workshop:{pipeline.id}:{stage_id}:{spec.name}"
            helptext = f"{spec.meaning} Affects {len(question.rule_ids)} rule(s)."
            if spec.type == "bool":
                answers[spec.name] = st.checkbox(spec.question, value=bool(question.current), key=key, help=helptext)
            else:
                options = list(spec.values)
                answers[spec.name] = st.selectbox(spec.question, options, index=options.index(question.current)
                                                  if question.current in options else 0, key=key, help=helptext)
        submitted = st.form_submit_button("Save answers and regenerate", type="primary")
    if submitted:
        changed = changed_answers(pipeline, stage_id, answers)
        if not changed:
            st.info("Nothing changed.")
            return
        try:
            updated = apply_answers(pipeline, stage_id, changed)
            saved = library.save_version(store(), updated, f"workshop: {names[stage_id]}"[:120])
        except (ValidationFailed, UserFacingError) as exc:
            show_problems(exc)
            return
        st.session_state["threats_workshop_saved"] = (saved.version, sorted(changed))
        st.rerun()
    saved = st.session_state.pop("threats_workshop_saved", None)
    if saved:
        st.success(f"Saved version {saved[0]} ({', '.join(saved[1])}); threats regenerated.")


def downloads_panel(assessment: Assessment) -> None:
    """A download button per report format."""
    columns = st.columns(len(FORMATS))
    for column, (fmt, spec) in zip(columns, FORMATS.items()):
        column.download_button(spec.label, data=render(assessment, fmt), file_name=file_name(assessment, fmt),
                               mime=spec.mime, key=f"threats_download_{fmt}", icon=":material/download:")
    st.caption("SARIF holds one result per open threat (for code-scanning tools); JSON follows the documented "
               "schema secmlops_core/reports/threat_report.schema.json.")
