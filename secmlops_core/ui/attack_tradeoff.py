"""Attack lab: the trade-off table (as a background job), its robustness-vs-cost chart, and candidate models."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from secmlops_core.attacks.specs import ATTACKS, DEFENSES, HARDENING_PARAMS, PRESETS, row_title
from secmlops_core.errors import UserFacingError
from secmlops_core.ui.attack_lab import JOB_KEY, allowed, current_job, job_manager, operator_name
from secmlops_core.ui.shell import store
from secmlops_core.ui.text import escape_markdown

EVALUABLE = [a for a, s in ATTACKS.items() if s.family in ("evasion", "patch")]


def evaluation_form(pre) -> None:
    """Choose attacks, defenses and preset; run the evaluation over the bundled samples as a job."""
    from secmlops_core.attacks.evaluation import apply_gate, evaluate, store_evaluation
    from secmlops_core.attacks.frames import sample_images

    st.subheader("Security vs performance")
    with st.form("attack:eval-form"):
        cols = st.columns(4)
        attacks = cols[0].multiselect("Attacks", EVALUABLE, default=["fgsm", "pgd-vanish"], key="attack:eval-attacks")
        defenses = cols[1].multiselect("Defenses", list(DEFENSES), default=["jpeg", "median"],
                                       format_func=lambda d: DEFENSES[d].title, key="attack:eval-defenses")
        preset = cols[2].radio("Preset", PRESETS, key="attack:eval-preset")
        imgsz = cols[3].select_slider("Frame size", [320, 480, 640], value=640, key="attack:eval-imgsz")
        adaptive = st.toggle("Also adaptive (BPDA through each defense; slower)", key="attack:eval-adaptive")
        hardened_ids = [c.candidate_id for c in _hardened_candidates()]
        hardened = st.multiselect("Adversarially trained models (training-time defense rows)", hardened_ids,
                                  key="attack:eval-hardened")
        gate_cols = st.columns(2)
        min_recall = gate_cols[0].number_input(
            "Release gate: minimum robust recall", 0.0, 1.0, 0.5, 0.05, key="attack:eval-min-recall",
            help="The evaluation passes when the worst robust recall of the deployed configuration reaches this; "
                 "the result is evidence for the pre-deployment robustness gate.")
        gate_defense = gate_cols[1].selectbox("Deployed configuration (the row the gate checks)",
                                              ["none", *DEFENSES, *(f"model:{c}" for c in hardened_ids)],
                                              key="attack:eval-gate-defense",
                                              format_func=lambda d: "no defense" if d == "none" else row_title(d))
        submitted = st.form_submit_button("Evaluate on the sample images",
                                          disabled=not allowed("run_attacks") or current_job() is not None)
    if submitted:
        if not attacks:
            st.error("Choose at least one attack.")
            return
        if gate_defense != "none" and gate_defense not in defenses and gate_defense.removeprefix("model:") not in hardened:
            st.error("The gate checks a defense that is not evaluated: add it to the defenses or models.")
            return
        images = sample_images()
        manager = job_manager()
        params = {"attacks": attacks, "defenses": defenses, "preset": preset, "imgsz": imgsz, "adaptive": adaptive,
                  "images": "samples", "min_robust_recall": min_recall, "gate_defense": gate_defense,
                  "hardened": hardened}

        def work(ctx):
            evaluation = evaluate(images, attacks, defenses, imgsz=imgsz, preset=preset, adaptive=adaptive,
                                  hardened=hardened, ctx=ctx)
            apply_gate(evaluation, min_recall, gate_defense)
            store_evaluation(manager.store, evaluation, params, ctx.job_id, pre.pipeline_id, pre.threat_id)
            return {"evaluation_id": evaluation.evaluation_id}

        try:
            st.session_state[JOB_KEY] = manager.submit("evaluation", work, title="Robustness evaluation (samples)",
                                                       params=params, time_limit_s=3600, ref=pre.threat_id)
        except UserFacingError as exc:
            st.error(escape_markdown(exc))
            return
        st.rerun()


def _hardened_candidates():
    from secmlops_core.attacks.finetune import list_candidates

    return [c for c in list_candidates(store(), limit=50) if c.kind == "adv-trained"]


def hardening_form() -> None:
    """The training-time defense: fine-tune an adversarially trained candidate as a job."""
    from secmlops_core.attacks.hardening import submit_adversarial_training

    st.subheader("Training-time defense: adversarial training")
    st.caption("Fine-tunes a copy of the detector with FGSM examples in every batch (GPU when present; the "
               "defaults finish in a few minutes on a CPU). The result is a candidate model, never live unless "
               "promoted; its clean and robust recall and latency are measured against the base model, and it "
               "can be a row of the evaluation above.")
    specs = {p.name: p for p in HARDENING_PARAMS}
    with st.form("attack:harden-form"):
        cols = st.columns(4)
        eps = cols[0].number_input("FGSM eps (x/255)", 1.0, 64.0, float(round(specs["eps"].default * 255)), 1.0,
                                   key="attack:harden-eps")
        epochs = cols[1].number_input("Epochs", 1, 50, int(specs["epochs"].default), key="attack:harden-epochs")
        samples = cols[2].number_input("Samples", 4, 512, int(specs["samples"].default), key="attack:harden-samples")
        imgsz = cols[3].select_slider("Size", [160, 224, 320, 480, 640], value=int(specs["imgsz"].default),
                                      key="attack:harden-imgsz")
        submitted = st.form_submit_button("Train", disabled=not allowed("run_gpu_jobs") or current_job() is not None)
    if submitted:
        try:
            st.session_state[JOB_KEY] = submit_adversarial_training(
                {"eps": eps / 255, "epochs": epochs, "samples": samples, "imgsz": imgsz}, job_manager())
        except UserFacingError as exc:
            st.error(escape_markdown(exc))
            return
        st.rerun()


def tradeoff_table(evaluation: dict) -> pd.DataFrame:
    """Rows = defenses; columns = clean recall, robust recall per attack (and adaptive), latency overhead."""
    rows = []
    for row in evaluation["rows"]:
        item = {"defense": row_title(row["defense"]),
                "clean recall": row["clean_recall"], "clean precision": row["clean_precision"]}
        for attack, value in row["robust_recall"].items():
            item[f"robust recall · {attack}"] = value
        for attack, value in row.get("robust_recall_adaptive", {}).items():
            item[f"robust recall · {attack} (adaptive)"] = value
        item["latency ms"] = row["latency_ms"]
        item["overhead ms"] = row["overhead_ms"]
        rows.append(item)
    return pd.DataFrame(rows)


def tradeoff_figure(evaluation: dict):
    """Robustness (worst robust recall) against cost (latency overhead), one point per defense."""
    import plotly.graph_objects as go

    xs, ys, labels, clean = [], [], [], []
    for row in evaluation["rows"]:
        values = [v for v in row["robust_recall"].values() if v is not None]
        xs.append(row["overhead_ms"])
        ys.append(min(values) if values else None)
        labels.append(row_title(row["defense"]))
        clean.append(row["clean_recall"])
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="markers+text", text=labels, textposition="top center",
                               marker={"size": [10 + 20 * (c or 0) for c in clean], "color": "#2dd4bf"},
                               hovertemplate="%{text}<br>overhead %{x} ms<br>worst robust recall %{y}<extra></extra>"))
    fig.update_layout(template="plotly_dark", height=360, margin={"l": 40, "r": 20, "t": 30, "b": 40},
                      xaxis_title="latency overhead per frame (ms)", yaxis_title="worst robust recall (non-adaptive)",
                      yaxis_range=[-0.05, 1.05], paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return fig


def latest_evaluation_view() -> None:
    """The newest stored evaluation: table, notes and scatter."""
    from secmlops_core.attacks.evaluation import latest_evaluations

    found = latest_evaluations(store(), limit=1)
    if not found:
        st.caption("No evaluation yet. `secmlops evaluate --images DIR` or the button above builds one.")
        return
    evaluation = found[0]
    basis = ("labels" if evaluation["basis"] == "labels"
             else "the clean model's own detections (no labels given)")
    st.caption(f"{evaluation['images']} image(s), {evaluation['reference_pedestrians']} reference pedestrian(s) from "
               f"{basis} · {escape_markdown(evaluation['model_id'])} on {escape_markdown(evaluation['device'])} · "
               f"{evaluation['seconds']} s · {escape_markdown(evaluation['settings_note'])}")
    st.dataframe(tradeoff_table(evaluation), hide_index=True, width="stretch")
    flags = ", ".join(f"{k.removeprefix('flagged_')} {v:.0%}" for k, v in evaluation["instability"].items())
    st.caption(f"Detection-side defense (instability under benign transformations) flagged: {flags}")
    st.plotly_chart(tradeoff_figure(evaluation), width="stretch", key="attack:tradeoff-chart")


def candidates_view() -> None:
    """Models produced by poisoning fine-tunes, and the explicit, recorded promotion."""
    from secmlops_core.attacks.finetune import list_candidates, promote_candidate

    found = list_candidates(store(), limit=20)
    if not found:
        return
    st.subheader("Candidate models (never live unless promoted)")
    st.dataframe(pd.DataFrame([{"candidate": c.candidate_id, "kind": c.kind, "sha256": c.sha256[:16] + "…",
                                "clean recall": c.metrics.get("clean_recall"),
                                "triggered recall": c.metrics.get("triggered_recall"),
                                "robust recall (FGSM)": c.metrics.get("robust_recall_fgsm"),
                                "base robust recall (FGSM)": c.metrics.get("base_robust_recall_fgsm"),
                                "promoted by": c.promoted_by or "", "created": c.created_at} for c in found]),
                 hide_index=True, width="stretch")
    pending = [c.candidate_id for c in found if c.promoted_at is None]
    if not pending or not allowed("promote_models"):
        return
    with st.expander("Promote a candidate into the weights registry"):
        with st.form("attack:promote"):
            choice = st.selectbox("Candidate", pending)
            reason = st.text_input("Reason (recorded)")
            confirm = st.checkbox("I understand this makes the model loadable by the live detector")
            if st.form_submit_button("Promote"):
                try:
                    promote_candidate(store(), choice, operator_name(), reason, confirm=confirm)
                    st.success(f"{escape_markdown(choice)} is registered; the feed keeps its weights until "
                               "pointed at it.")
                except UserFacingError as exc:
                    st.error(escape_markdown(exc))
