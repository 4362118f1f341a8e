"""Streamlit widgets of the Attack lab page (the page itself stays thin)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from secmlops_core.access.policy import can
from secmlops_core.attacks.specs import ATTACKS, DEFENSES, PRESETS, check_params
from secmlops_core.errors import UserFacingError
from secmlops_core.jobs import JobManager, JobRecord, get_job_manager
from secmlops_core.ui.shell import acting_principal, settings, signed_in_fragment, store
from secmlops_core.ui.text import escape_markdown

JOB_KEY, RUN_KEY = "attack:job", "attack:run"
SAMPLE_CHOICES = {"bus.jpg (4 pedestrians)": "sample:bus", "zidane.jpg (2 people)": "sample:zidane"}


@dataclass(frozen=True)
class Preselection:
    """What a link from the threat register asked for (``?demo=&threat=&pipeline=``)."""

    demo: str | None
    threat_id: str | None
    pipeline_id: str | None


def allowed(permission: str) -> bool:
    """Whether the person acting in this run holds ``permission`` (buttons are disabled otherwise)."""
    return can(permission)


def operator_name() -> str:
    """The name the acting person is recorded under."""
    return acting_principal().label


def job_manager() -> JobManager:
    """The process's job manager for the app's store."""
    return get_job_manager(store())


def preselection() -> Preselection:
    """Read the query parameters once; an unknown demo id is reported, not fatal."""
    params = st.query_params
    demo = params.get("demo")
    if demo and demo not in ATTACKS:
        st.warning(f"This link asks for the demo '{escape_markdown(demo)}', which the attack lab does not know; "
                   "pick an attack below.")
        demo = None
    pre = Preselection(demo, params.get("threat") or None, params.get("pipeline") or None)
    if pre.threat_id:
        st.info(f"Launched from threat **{escape_markdown(pre.threat_id)}**"
                + (f" of pipeline **{escape_markdown(pre.pipeline_id)}**" if pre.pipeline_id else "")
                + ": each run's result is attached to that threat as evidence.")
    return pre


def choose_image():
    """(image_ref, BGR frame or None) from a sample, an upload or a camera's live frame."""
    from secmlops_core.attacks.frames import load_source
    from secmlops_core.feed import state as feeds

    source = st.radio("Image", ["Sample", "Upload", "Live camera frame"], horizontal=True, key="attack:source")
    if source == "Sample":
        label = st.selectbox("Sample image", list(SAMPLE_CHOICES), key="attack:sample")
        return SAMPLE_CHOICES[label], None
    if source == "Upload":
        upload = st.file_uploader(f"Image (at most {settings().max_image_file_mb:g} MB, "
                                  f"{settings().max_image_megapixels:g} megapixels)",
                                  type=["jpg", "jpeg", "png", "bmp", "webp"], key="attack:upload")
        if upload is None:
            return None, None
        try:
            return f"upload:{upload.name}", load_source(f"upload:{upload.name}", settings(), upload.getvalue())
        except UserFacingError as exc:
            st.error(escape_markdown(exc))
            return None, None
    cameras = [s.camera_id for s in feeds.list_statuses(settings())]
    if not cameras:
        st.info("No camera has published a frame yet; start a feed (`secmlops feed --source sample`).")
        return None, None
    camera = st.selectbox("Camera", cameras, key="attack:camera")
    st.caption("The runner's latest stored frame (annotated as the runner saved it).")
    return f"camera:{camera}", None


def choose_attack(pre: Preselection) -> tuple[str, str, dict]:
    """(attack id, preset, raw parameters) from the widgets; parameters are range-checked by their inputs too."""
    ids = list(ATTACKS)
    attack = st.selectbox("Attack", ids, index=ids.index(pre.demo) if pre.demo else ids.index("pgd-vanish"),
                          format_func=lambda a: ATTACKS[a].title, key="attack:attack")
    spec = ATTACKS[attack]
    st.caption(f"{spec.description} Knowledge: {spec.knowledge}.")
    preset = st.radio("Preset", PRESETS, horizontal=True, key=f"attack:preset:{attack}")
    values = check_params(attack, None, preset)
    raw = {}
    with st.expander("Parameters", expanded=False):
        cols = st.columns(3)
        for i, p in enumerate(spec.params):
            step = 1 if p.kind is int else (1 / 255 if p.name in ("eps", "step") else 0.01)
            low = p.low + (step if p.low_open and p.kind is int else 0)
            raw[p.name] = cols[i % 3].number_input(
                p.name, min_value=p.kind(low) if p.kind is int else float(p.low), max_value=p.kind(p.high),
                value=p.kind(values[p.name]), step=p.kind(step) if p.kind is int else float(step),
                format=None if p.kind is int else "%.4f", help=p.help, key=f"attack:p:{attack}:{preset}:{p.name}")
    return attack, preset, raw


def choose_defenses(attack: str) -> tuple[list[str], bool]:
    """Defenses to measure and whether to also attack through them (adaptive)."""
    if ATTACKS[attack].family == "poisoning":
        return [], False
    cols = st.columns([3, 1])
    defenses = cols[0].multiselect("Defenses", list(DEFENSES), format_func=lambda d: DEFENSES[d].title,
                                   key="attack:defenses")
    adaptive = cols[1].toggle("Adaptive (BPDA)", key="attack:adaptive", disabled=ATTACKS[attack].family != "evasion",
                              help="Also compute the attack through each defense")
    return defenses, adaptive


def run_button(pre: Preselection, image_ref, frame, attack, preset, raw, defenses, adaptive) -> None:
    """Validate and queue the run as a background job."""
    from secmlops_core.attacks.runs import REPORT_PERMISSION, AttackRequest, submit_attack

    needs_image = ATTACKS[attack].family != "poisoning"
    may_run = allowed("run_attacks")
    busy = current_job() is not None
    if not may_run:
        st.caption("Your role may not launch attacks (needs permission 'run_attacks').")
    may_report = allowed(REPORT_PERMISSION)
    report = st.checkbox(
        "Report this run to operations", value=False, key="attack:report", disabled=not may_report,
        help="Off: a demo, kept as evidence for threats and gates and shown in the wall's demo tile, with no "
             "operations incident. On: the run also opens an incident in the operations queue."
             + ("" if may_report else f" Your role may not (needs permission '{REPORT_PERMISSION}')."))
    if st.button("Run attack", type="primary", key="attack:run-button",
                 disabled=busy or not may_run or (needs_image and image_ref is None)):
        request = AttackRequest(attack=attack, image_ref=image_ref or "sample:bus", params=raw, preset=preset,
                                defenses=tuple(defenses), adaptive=adaptive, pipeline_id=pre.pipeline_id,
                                threat_id=pre.threat_id, report_to_operations=report and may_report)
        try:
            st.session_state[JOB_KEY] = submit_attack(request, frame, job_manager())
        except UserFacingError as exc:
            st.error(escape_markdown(exc))
            return
        st.rerun()


def current_job() -> JobRecord | None:
    """The page's job while it is queued or running, else None."""
    job_id = st.session_state.get(JOB_KEY)
    if not job_id:
        return None
    job = job_manager().get(job_id)
    return job if job is not None and not job.finished else None


def placement_text(job: JobRecord | None) -> str | None:
    """Where a job runs or ran: its Ray node and device, a Ray job still waiting for a worker, or None in-process."""
    if job is None:
        return None
    if job.node:
        return f"Ray node {job.node} · device {job.device or 'unknown'}"
    if job_manager().executor is not None and not job.finished and job.status == "running":
        return "Waiting for a Ray worker to take the job"
    return None


def job_panel() -> None:
    """Progress, ETA and cancel of the page's running job; refreshes itself each second while it runs."""
    job_id = st.session_state.get(JOB_KEY)
    if not job_id:
        return

    @signed_in_fragment(run_every=1.0)
    def panel():
        job = job_manager().get(job_id)
        if job is None:
            return
        if not job.finished:
            eta = f", about {job.eta_s:.0f} s left" if job.eta_s is not None else ""
            st.progress(job.progress,
                        text=escape_markdown(f"{job.title}: {job.status} — {job.message or 'starting'}{eta}"))
            where = placement_text(job)
            if where:
                st.caption(escape_markdown(where))
            if st.button("Cancel", key="attack:cancel"):
                job_manager().cancel(job_id)
            return
        st.session_state.pop(JOB_KEY, None)
        if job.status == "succeeded" and job.result and job.result.get("run_id"):
            st.session_state[RUN_KEY] = job.result["run_id"]
        elif job.status == "succeeded" and job.result and job.result.get("candidate_id"):
            m = job.result.get("metrics", {})
            st.session_state["attack:notice"] = (
                "success", f"Candidate {escape_markdown(job.result['candidate_id'])}: robust recall under FGSM "
                           f"{m.get('base_robust_recall_fgsm')} -> {m.get('robust_recall_fgsm')}, clean recall "
                           f"{m.get('base_clean_recall')} -> {m.get('clean_recall')} (see Candidate models below).")
        elif job.status == "succeeded":
            st.session_state["attack:notice"] = ("success", f"{escape_markdown(job.title)}: done.")
        elif job.status == "cancelled":
            st.session_state["attack:notice"] = ("warning", "The run was cancelled.")
        else:
            st.session_state["attack:notice"] = ("error", f"The run failed: {escape_markdown(job.error)}")
        st.rerun()

    panel()


def result_view() -> None:
    """The selected run: clean vs attacked vs perturbation, counts, defenses, instability."""
    from secmlops_core.attacks.runs import get_run

    notice = st.session_state.pop("attack:notice", None)
    if notice:
        getattr(st, notice[0])(notice[1])
    run_id = st.session_state.get(RUN_KEY)
    if not run_id:
        return
    try:
        run = get_run(store(), run_id)
    except UserFacingError:
        return
    m = run.metrics
    st.subheader(f"{ATTACKS[run.attack].title} · {escape_markdown(run.image_ref)}")
    where = placement_text(job_manager().get(run.job_id)) if run.job_id else None
    if where:
        st.caption(escape_markdown(f"Ran on {where}"))
    st.caption(escape_markdown(f"run {run.run_id} · {run.model_id} on {run.device} · {m.get('setting', '')} · "
                               + ", ".join(f"{k} {v}" for k, v in run.durations.items())))
    cols = st.columns(4)
    cols[0].metric("Pedestrians (clean)", m.get("clean_pedestrians"))
    cols[1].metric("Pedestrians (attacked)", m.get("attacked_pedestrians"),
                   delta=(m.get("attacked_pedestrians") or 0) - (m.get("clean_pedestrians") or 0), delta_color="off")
    cols[2].metric("Recall vs clean", "–" if m.get("recall") is None else f"{m['recall']:.0%}")
    cols[3].metric("Goal", f"{m.get('goal')}: {'reached' if m.get('success') else 'not reached'}")
    images = st.columns(3)
    captions = {"clean": "clean (model on the clean frame)", "attacked": "attacked",
                "perturbation": f"perturbation ×{run.thumbnails.get('perturbation_gain', 1)}"}
    for column, name in zip(images, ("clean", "attacked", "perturbation")):
        data = run.thumbnail(name)
        if data:
            column.image(data, caption=captions[name], width="stretch")
    if run.result.get("note"):
        st.caption(escape_markdown(run.result["note"]))
    if "candidate_id" in m:
        st.markdown(f"Candidate **{escape_markdown(m['candidate_id'])}** · clean recall {m['clean_recall']:.0%} · "
                    f"triggered recall {m['triggered_recall']:.0%} (base model {m['base_triggered_recall']:.0%}) · "
                    f"{escape_markdown(m['setting'])}")
    if run.result.get("crops"):
        st.dataframe(pd.DataFrame(run.result["crops"]), hide_index=True, width="stretch")
        st.caption(f"classifier queries: {run.result.get('queries')}")
    defended = run.result.get("defended") or []
    if defended:
        rows = [{"defense": DEFENSES[d["defense"]].title, "clean pedestrians": d["clean"]["pedestrians"],
                 "attacked, non-adaptive": d["non_adaptive"]["pedestrians"],
                 "attacked, adaptive (BPDA)": d.get("adaptive", {}).get("pedestrians"),
                 "overhead ms": d["overhead_ms"]} for d in defended]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption("Non-adaptive: the attack was computed on the undefended model. Adaptive: computed through the "
                   "defense, its gradient approximated where it has none (BPDA).")
    instability = run.result.get("instability")
    if instability:
        st.caption(f"Instability detector: clean frame {instability['clean']['score']:.2f}"
                   f"{' (flagged)' if instability['clean']['flagged'] else ''}, attacked frame "
                   f"{instability['attacked']['score']:.2f}{' (flagged)' if instability['attacked']['flagged'] else ''}")


def recent_runs() -> None:
    """Stored runs; choosing one replays it instantly from its stored thumbnails and metrics."""
    from secmlops_core.attacks.runs import list_runs

    runs = list_runs(store(), limit=25)
    if not runs:
        return
    st.subheader("Recent runs")
    table = pd.DataFrame([{"run": r.run_id, "when": r.created_at, "attack": r.attack, "image": r.image_ref,
                           "status": r.status, "device": r.device,
                           "pedestrians": f"{r.metrics.get('clean_pedestrians', '–')} → {r.metrics.get('attacked_pedestrians', '–')}",
                           "threat": r.threat_id or "", "error": (r.error or "")[:80]} for r in runs])
    st.dataframe(table, hide_index=True, width="stretch")
    done = [r.run_id for r in runs if r.status == "succeeded"]
    if done:
        choice = st.selectbox("Replay a run", done, key="attack:replay")
        if st.button("Show run", key="attack:replay-button"):
            st.session_state[RUN_KEY] = choice
            st.rerun()
