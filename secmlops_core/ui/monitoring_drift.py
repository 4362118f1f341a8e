"""Widgets of the Monitoring page: window choice, drift verdicts, distributions, each camera's drift
reference (show, pin, clear), timeline, heat map."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd
import streamlit as st

from secmlops_core.errors import UserFacingError
from secmlops_core.monitoring.drift import FEATURES, DriftResult, compute_drift, configured_tests
from secmlops_core.monitoring.reference import clear_reference, get_reference, pin_reference
from secmlops_core.monitoring.snapshots import list_snapshots, save_snapshot, snapshot_timeline
from secmlops_core.monitoring.windows import parse_window
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now
from secmlops_core.ui.shell import store
from secmlops_core.ui.text import escape_markdown

ALL = "All cameras"
RESULT_KEY = "monitoring:result"
REFERENCE_MESSAGE = "monitoring:reference-message"
HISTORY = {"1 hour": 60, "6 hours": 360, "24 hours": 1440, "7 days": 10080}


def _cameras() -> list[str]:
    now = utc_now()
    try:
        known = query.camera_activity(now - timedelta(days=7), now)["camera_id"].tolist()
    except (duckdb.Error, OSError) as exc:  # an unreadable lake: offer only "all", and say why
        st.caption(f"Cameras could not be listed from the telemetry: {escape_markdown(str(exc).splitlines()[0])}")
        known = []
    return [ALL] + known


def controls() -> None:
    """Camera and windows; computes and stores a drift result on request."""
    with st.form("monitoring:windows", border=True):
        cols = st.columns([1, 2, 2])
        camera = cols[0].selectbox("Camera", _cameras(), key="monitoring:camera")
        reference = cols[1].text_input("Reference window", "-75m..-15m", key="monitoring:reference",
                                       help="START..END: ISO times (UTC), 'now' or relative (-2h, -30m, -1d)")
        current = cols[2].text_input("Current window", "-15m..now", key="monitoring:current")
        use_reference = st.checkbox("Compare with the camera's drift reference (pinned, or its first settled stretch "
                                    "of normal operation) instead of the reference window above", value=True,
                                    key="monitoring:use-reference")
        save = st.checkbox("Keep the result as a drift snapshot (and evidence)", value=True, key="monitoring:save")
        submitted = st.form_submit_button("Compute drift", type="primary")
    if not submitted:
        return
    try:
        now = utc_now()
        ref_w = parse_window(reference, now, "reference window")
        cur_w = parse_window(current, now, "current window")
        pinned = get_reference(store(), camera) if use_reference and camera != ALL else None
        if pinned is not None:
            ref_w = pinned.window
        elif use_reference:
            st.caption("All cameras together, or a camera without a drift reference yet: compared with the "
                       "reference window typed above.")
        tests, share = configured_tests()
        with st.spinner("Comparing windows with Evidently…"):
            result = compute_drift(ref_w, cur_w, None if camera == ALL else camera, tests=tests, drift_share=share)
        if save:
            save_snapshot(store(), result, trigger="monitoring page")
    except UserFacingError as exc:
        st.session_state.pop(RESULT_KEY, None)
        st.error(escape_markdown(exc))
        return
    st.session_state[RESULT_KEY] = result


def verdicts() -> None:
    """The verdict table, distributions and Evidently's report for the last computed result."""
    result: DriftResult | None = st.session_state.get(RESULT_KEY)
    if result is None:
        st.info("Choose a reference and a current window and press **Compute drift**.")
        return
    where = escape_markdown(result.camera) if result.camera else "all cameras"
    headline = (f"Dataset drift on {where}: {len(result.drifted_columns)}/{len(result.columns)} columns"
                if result.dataset_drift else f"No dataset drift on {where} "
                f"({len(result.drifted_columns)}/{len(result.columns)} columns drifted)")
    (st.error if result.dataset_drift else st.success)(headline)
    cols = st.columns(4)
    cols[0].metric("Drift share", f"{result.drift_share:.0%}")
    cols[1].metric("Reference rows", f"{result.reference_rows:,}")
    cols[2].metric("Current rows", f"{result.current_rows:,}")
    cols[3].metric("Computed in", f"{result.seconds:.2f} s")
    st.caption(f"Reference {result.reference.label()} · current {result.current.label()} · "
               + ("every row tested" if result.mode == "raw" else
                  "big windows: DuckDB histograms → quantile summaries, near-threshold scores recomputed on all rows"))
    table = pd.DataFrame([{"column": c.column, "drift": "drift" if c.drifted else "ok", "test": c.test,
                           "score": round(c.score, 5), "threshold": c.threshold, "computed on": c.basis,
                           "reference values": c.reference_count, "current values": c.current_count,
                           "meaning": FEATURES[c.column]} for c in result.columns])
    st.dataframe(table, hide_index=True, width="stretch")
    for column, reason in result.skipped.items():
        st.caption(f"{escape_markdown(column)}: skipped ({escape_markdown(reason)})")
    _distribution(result)
    _evidently_report(result)


def _distribution(result: DriftResult) -> None:
    import plotly.graph_objects as go

    column = st.selectbox("Distribution", [c.column for c in result.columns], key="monitoring:dist")
    fig = go.Figure()
    for name, frame, colour in (("reference", result.reference_data, "#60a5fa"),
                                ("current", result.current_data, "#f59e0b")):
        fig.add_trace(go.Histogram(x=frame[column].dropna(), name=name, histnorm="probability density",
                                   opacity=0.6, marker_color=colour, nbinsx=60))
    fig.update_layout(barmode="overlay", template="plotly_dark", height=320, margin={"l": 40, "r": 20, "t": 30, "b": 30},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", xaxis_title=column)
    st.plotly_chart(fig, width="stretch", key="monitoring:dist-chart")
    if result.mode == "binned":
        st.caption("Big windows are drawn from their quantile summaries (what the tests saw).")


def _evidently_report(result: DriftResult) -> None:
    if st.button("Build Evidently's HTML report", key="monitoring:build-html"):
        try:
            with st.spinner("Rendering Evidently's report…"):
                st.session_state["monitoring:html"] = (id(result), result.html())
        except UserFacingError as exc:
            st.error(escape_markdown(exc))
    built = st.session_state.get("monitoring:html")
    if built and built[0] == id(result):
        st.download_button("Download Evidently report (HTML)", built[1], file_name="evidently-drift.html",
                           mime="text/html", key="monitoring:download")
        if st.toggle("Open it here", key="monitoring:open-html"):
            import streamlit.components.v1 as components

            components.html(built[1], height=900, scrolling=True)


def reference_panel() -> None:
    """The drift reference of one camera, with pin and clear (who may: the ``operate_feeds`` permission)."""
    st.subheader("Drift reference")
    st.caption("Each camera's drift, and its confidence and pedestrian alerts, are measured against this window. "
               "Unless an operator pins one, it is the camera's first settled stretch of normal operation, "
               "found once by the alert rules and kept.")
    cameras = _cameras()[1:]
    if not cameras:
        st.caption("No camera has sent telemetry in the last 7 days.")
        return
    camera = st.selectbox("Camera", cameras, key="monitoring:ref-camera")
    done = st.session_state.pop(REFERENCE_MESSAGE, None)
    if done:
        st.success(done)
    found = get_reference(store(), camera)
    if found is None:
        st.info(f"{escape_markdown(camera)} has no drift reference yet: the alert rules find it once the camera "
                "has run its normal scenario long enough, or pin one below.")
    else:
        cols = st.columns([2, 3])
        cols[0].metric("Reference window", f"{found.reference_start:%H:%M}–{found.reference_end:%H:%M} UTC",
                       help=found.window.label())
        cols[1].markdown(f"**{escape_markdown(found.window.label())}**  \n{escape_markdown(found.origin)}"
                         + (f"  \n{'Note: ' if found.kind == 'pinned' else ''}{escape_markdown(found.note)}"
                            if found.note else ""))
    with st.form("monitoring:pin", border=True):
        cols = st.columns([2, 3])
        window = cols[0].text_input("Baseline window to pin", "-70m..-10m", key="monitoring:pin-window",
                                    help="START..END: ISO times (UTC), 'now' or relative (-2h, -30m, -1d)")
        note = cols[1].text_input("Why this window", key="monitoring:pin-note", max_chars=500)
        pin = st.form_submit_button("Pin as this camera's reference", icon=":material/push_pin:")
    if pin:
        try:
            pinned = pin_reference(store(), camera, parse_window(window, what="baseline window"), note)
        except UserFacingError as exc:
            st.error(escape_markdown(exc))
        else:
            st.session_state[REFERENCE_MESSAGE] = (f"Pinned {escape_markdown(pinned.window.label())} for "
                                                   f"{escape_markdown(camera)}.")
            st.rerun()
    if found is not None and found.kind == "pinned":
        if st.button("Clear the pinned reference", key="monitoring:clear-ref", icon=":material/backspace:"):
            try:
                clear_reference(store(), camera)
            except UserFacingError as exc:
                st.error(escape_markdown(exc))
            else:
                st.session_state[REFERENCE_MESSAGE] = (f"Cleared; {escape_markdown(camera)} is measured against "
                                                       "its settled reference again.")
                st.rerun()


def history() -> None:
    """Drift timeline per feature and a feature x time heat map, from stored snapshots."""
    st.subheader("Drift over time")
    cols = st.columns(2)
    span = cols[0].selectbox("Period", list(HISTORY), index=2, key="monitoring:history")
    cameras = _cameras()
    camera = cols[1].selectbox("Snapshots of", cameras, key="monitoring:history-camera")
    since = utc_now() - timedelta(minutes=HISTORY[span])
    snaps = list_snapshots(store(), camera="" if camera == ALL else camera, since=since)
    frame = snapshot_timeline(snaps)
    if frame.empty:
        st.caption("No drift snapshots in this period. They are kept as the alert rules run (the ops wall, or "
                   "`secmlops monitor`) and whenever drift is computed above.")
        return
    import plotly.express as px

    frame = frame.rename(columns={"ratio": "score / threshold"})
    timeline = px.line(frame, x="time", y="score / threshold", color="column", markers=True, template="plotly_dark",
                       height=340)
    timeline.add_hline(y=1.0, line_dash="dash", line_color="#ef4444", annotation_text="threshold")
    timeline.update_layout(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                           margin={"l": 40, "r": 20, "t": 30, "b": 30})
    st.plotly_chart(timeline, width="stretch", key="monitoring:timeline")
    heat = frame.pivot_table(index="column", columns="time", values="score / threshold", aggfunc="max")
    fig = px.imshow(heat, aspect="auto", color_continuous_scale="RdYlGn_r", zmin=0, zmax=2, template="plotly_dark",
                    height=340, labels={"color": "score / threshold"})
    fig.update_layout(paper_bgcolor="rgba(0,0,0,0)", margin={"l": 40, "r": 20, "t": 30, "b": 30})
    st.plotly_chart(fig, width="stretch", key="monitoring:heatmap")
    st.caption("Each score relative to its test's threshold: 1 or more is drift (p-value tests are shown as "
               "threshold / p-value so that the same reading holds; capped at 5).")
