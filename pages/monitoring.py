"""Monitoring: drift between telemetry windows (Evidently), verdicts, distributions, drift references, history."""

import streamlit as st

from secmlops_core.ui import monitoring_drift as ui
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Monitoring")
ui.controls()
ui.verdicts()
ui.reference_panel()
ui.history()
