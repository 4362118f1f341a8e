"""Monitoring: drift between telemetry windows (Evidently), verdicts, distributions, history."""

import streamlit as st

from secmlops_core.ui import monitoring_drift as ui

st.title("Monitoring")
ui.controls()
ui.verdicts()
ui.history()
