"""The sidebar pipeline picker shared by every page that works on one pipeline."""

from __future__ import annotations

import streamlit as st

from secmlops_core.pipeline import library
from secmlops_core.pipeline.model import Pipeline
from secmlops_core.ui.shell import store

SELECTED_KEY = "selected_pipeline_id"


def pick_pipeline() -> Pipeline | None:
    """Let the user choose a stored pipeline in the sidebar; returns its newest version."""
    summaries = library.list_pipelines(store())
    if not summaries:
        st.sidebar.info("No pipeline stored yet: create one in the Pipeline designer.")
        return None
    ids = [s.pipeline_id for s in summaries]
    names = {s.pipeline_id: f"{s.name} (v{s.latest_version})" for s in summaries}
    current = st.session_state.get(SELECTED_KEY)
    index = ids.index(current) if current in ids else 0
    chosen = st.sidebar.selectbox("Pipeline", ids, index=index, format_func=names.__getitem__,
                                  key="pipeline_picker")
    st.session_state[SELECTED_KEY] = chosen
    return library.latest(store(), chosen)
