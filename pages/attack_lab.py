"""Attack lab: attacks and defenses on the live detector, runs as jobs, the security-vs-performance trade-off."""

import streamlit as st

from secmlops_core.ui import attack_lab as ui
from secmlops_core.ui import attack_tradeoff as tradeoff
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Attack lab")
pre = ui.preselection()
left, right = st.columns([2, 3])
with left:
    image_ref, frame = ui.choose_image()
    attack, preset, raw = ui.choose_attack(pre)
    defenses, adaptive = ui.choose_defenses(attack)
    ui.run_button(pre, image_ref, frame, attack, preset, raw, defenses, adaptive)
with right:
    ui.job_panel()
    ui.result_view()
ui.recent_runs()
tradeoff.evaluation_form(pre)
tradeoff.latest_evaluation_view()
tradeoff.hardening_form()
tradeoff.candidates_view()
