"""Incidents: response figures, queue, detail with timeline, runbook, linked threats and evidence, actions."""

import streamlit as st

from secmlops_core.ui import monitoring_incidents as ui
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Incidents")
ui.response_figures()
ui.evaluate_now()
chosen = ui.queue()
ui.detail(chosen)
ui.open_by_hand()
