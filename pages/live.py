"""Live detector: latest frames and KPIs above the fold; per-minute series, feeds, scenarios and a
one-off detection in tabs."""

import streamlit as st

from secmlops_core.ui import live as ui
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
st.title("Live detector")
view = ui.sidebar_controls()
ui.live_dashboard(view)
ui.live_tabs(view)
