"""Widgets of the Incidents page: response figures, queue, detail with timeline, runbook, evidence, actions."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from secmlops_core.catalog.loading import load_roles
from secmlops_core.errors import UserFacingError
from secmlops_core.evidence import list_evidence
from secmlops_core.monitoring import incidents as inc
from secmlops_core.monitoring.rules import load_alert_rules
from secmlops_core.ui.shell import settings, store
from secmlops_core.ui.text import escape_markdown
from secmlops_core.ui.wall import SEVERITY_MARK

NEXT_ACTIONS = {"open": ("acknowledged", "investigating", "resolved"), "acknowledged": ("investigating", "resolved"),
                "investigating": ("resolved",), "resolved": ()}
ACTION_LABEL = {"acknowledged": "Acknowledge", "investigating": "Start investigating", "resolved": "Resolve"}


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def response_figures() -> None:
    """MTTA, MTTR and active incidents by severity."""
    stats = inc.response_stats(store())
    cols = st.columns(6)
    cols[0].metric("MTTA", _duration(stats.mtta), help="mean time from open to the first response")
    cols[1].metric("MTTR", _duration(stats.mttr), help="mean time from open to resolved")
    for col, severity in zip(cols[2:], ("critical", "high", "medium", "low")):
        col.metric(f"{SEVERITY_MARK[severity]} {severity}", stats.active_by_severity.get(severity, 0))
    st.caption(f"{stats.incidents} incident(s) in total, {stats.acknowledged} answered, {stats.resolved} resolved.")


def evaluate_now() -> None:
    """Run the alert rules once on request."""
    from secmlops_core.monitoring.evaluate import evaluate

    if st.button("Evaluate alert rules now", key="incidents:evaluate"):
        try:
            with st.spinner("Evaluating alert rules…"):
                report = evaluate(store(), settings())
        except UserFacingError as exc:  # e.g. an invalid alert_rules.yaml: a message, not an exception box
            st.error(escape_markdown(exc))
            return
        st.toast(f"Rules evaluated in {report.seconds:.1f} s: {len(report.opened)} incident(s) opened")
        for problem in report.problems:
            st.warning(escape_markdown(problem))


def queue() -> str | None:
    """Filters and the incident list; returns the chosen incident id."""
    cols = st.columns(2)
    statuses = cols[0].multiselect("Status", inc.STATUSES, default=list(inc.ACTIVE), key="incidents:status")
    severities = cols[1].multiselect("Severity", list(inc.SEVERITY_ORDER), key="incidents:severity")
    found = inc.list_incidents(store(), statuses=tuple(statuses) or None, severities=tuple(severities) or None)
    if not found:
        st.info("No incidents match. Incidents open when alert rules fire (the ops wall and `secmlops monitor` "
                "evaluate them) or by hand below.")
        return None
    st.dataframe(pd.DataFrame([{
        "severity": i.severity, "title": i.title, "status": i.status,
        "owner": i.owner_role, "opened (UTC)": i.opened_at, "seen": i.occurrences, "id": i.incident_id}
        for i in found]), hide_index=True, width="stretch")
    labels = {i.incident_id: f"{i.title} · {i.status} · {i.incident_id}" for i in found}
    return st.selectbox("Incident", list(labels), format_func=labels.get, key="incidents:chosen")


def detail(incident_id: str | None) -> None:
    """One incident: facts, linked threats and evidence, timeline, runbook and actions."""
    if not incident_id:
        return
    try:
        i = inc.get_incident(store(), incident_id)
    except UserFacingError as exc:
        st.warning(escape_markdown(exc))
        return
    st.subheader(escape_markdown(i.title))
    cols = st.columns(4)
    cols[0].metric("Severity", i.severity)
    cols[1].metric("Status", i.status)
    cols[2].metric("Owner", load_roles()[i.owner_role].name if i.owner_role in load_roles() else i.owner_role)
    cols[3].metric("Seen", f"{i.occurrences}×")
    if i.details.get("summary"):
        st.markdown(escape_markdown(i.details["summary"]))
    if i.window_start:
        st.caption(f"Telemetry window {i.window_start:%Y-%m-%d %H:%M:%S} .. {i.window_end:%H:%M:%S} UTC"
                   + (f" · camera {escape_markdown(i.camera_id)}" if i.camera_id else "")
                   + (f" · compare on Monitoring with current `{i.window_start.isoformat(timespec='seconds')}.."
                      f"{i.window_end.isoformat(timespec='seconds')}`" if i.signal == "drift_share" else ""))
    left, right = st.columns(2)
    with left:
        _threats_and_evidence(i)
        _timeline(i)
    with right:
        _runbook(i)
        _actions(i)


def _threats_and_evidence(i: inc.Incident) -> None:
    st.markdown("**Threats this incident evidences**")
    if i.threat_links:
        st.dataframe(pd.DataFrame(i.threat_links), hide_index=True, width="stretch")
    else:
        st.caption("No linked threat (no pipeline register has a threat whose rule watches this signal).")
    evidence = [e for e in list_evidence(store(), kind="incident", limit=500) if e.source_ref == f"incident:{i.incident_id}"]
    snapshot = i.details.get("snapshot_id")
    if snapshot:
        evidence += [e for e in list_evidence(store(), kind="drift_snapshot", limit=500)
                     if e.source_ref == f"drift:{snapshot}"]
    if evidence:
        st.markdown("**Evidence**")
        st.dataframe(pd.DataFrame([{"kind": e.kind, "summary": e.summary, "threat": e.threat_id or "",
                                    "outcome": e.outcome, "at": e.created_at} for e in evidence]),
                     hide_index=True, width="stretch")


def _timeline(i: inc.Incident) -> None:
    st.markdown("**Timeline**")
    events = inc.timeline(store(), i.incident_id)
    st.dataframe(pd.DataFrame([{"at (UTC)": e.at, "what": e.kind, "who": e.actor, "text": e.text} for e in events]),
                 hide_index=True, width="stretch")


def _runbook(i: inc.Incident) -> None:
    try:
        catalog = load_alert_rules(settings().home)
    except UserFacingError as exc:  # a broken alert_rules.yaml: say so where the runbook would be
        st.warning(f"The runbook cannot be shown: {escape_markdown(str(exc))}")
        return
    rule = catalog.rules.get(i.rule_id)
    book = catalog.runbooks.get(rule.runbook) if rule else None
    if book:
        st.markdown(f"**Runbook: {escape_markdown(book.title)}**")
        st.markdown("\n".join(f"{n}. {escape_markdown(step)}" for n, step in enumerate(book.steps, 1)))


def _actions(i: inc.Incident) -> None:
    st.markdown("**Actions**")
    actor = None  # the signed-in principal; the core checks its permission
    note = st.text_area("Note", key=f"incidents:note:{i.incident_id}", max_chars=inc.MAX_NOTE_CHARS)
    cols = st.columns(max(1, len(NEXT_ACTIONS[i.status]) + 1))
    try:
        for col, status in zip(cols, NEXT_ACTIONS[i.status]):
            if col.button(ACTION_LABEL[status], key=f"incidents:{status}:{i.incident_id}"):
                inc.set_status(store(), i.incident_id, status, actor, note)
                st.rerun()
        if cols[-1].button("Add note", key=f"incidents:add-note:{i.incident_id}"):
            inc.add_note(store(), i.incident_id, note, actor)
            st.rerun()
        roles = load_roles()
        owner = st.selectbox("Owner role", list(roles), index=list(roles).index(i.owner_role) if i.owner_role in roles
                             else 0, format_func=lambda r: roles[r].name, key=f"incidents:owner:{i.incident_id}")
        if owner != i.owner_role and st.button("Reassign", key=f"incidents:reassign:{i.incident_id}"):
            inc.set_owner(store(), i.incident_id, owner, actor)
            st.rerun()
    except UserFacingError as exc:
        st.error(escape_markdown(exc))


def open_by_hand() -> None:
    """A form to open an incident manually."""
    with st.expander("Open an incident by hand"):
        with st.form("incidents:manual"):
            title = st.text_input("Title", max_chars=300)
            roles = load_roles()
            cols = st.columns(2)
            severity = cols[0].selectbox("Severity", list(inc.SEVERITY_ORDER), index=2)
            owner = cols[1].selectbox("Owner role", list(roles), format_func=lambda r: roles[r].name,
                                      index=list(roles).index("security_operations"))
            note = st.text_area("What happened", max_chars=inc.MAX_NOTE_CHARS)
            if st.form_submit_button("Open incident"):
                try:
                    new_id = inc.open_manual(store(), title, severity, owner, note=note)
                except UserFacingError as exc:
                    st.error(escape_markdown(exc))
                else:
                    st.session_state["incidents:chosen"] = new_id
                    st.session_state["incidents:status"] = list(inc.ACTIVE)
                    st.rerun()
