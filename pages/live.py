"""Live detector: feed status, latest annotated frames, KPIs, per-minute series, scenarios, one-off detection."""

import streamlit as st

from secmlops_core.ui import live as ui
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Live detector")
view = ui.sidebar_controls()
ui.live_dashboard(view)
ui.scenario_controls()
ui.detect_upload()
