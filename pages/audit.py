"""Audit trail: every recorded change, the hash-chain check, and exports."""

import pandas as pd
import streamlit as st

from secmlops_core.access import audit
from secmlops_core.ui.shell import page_guard, store
from secmlops_core.ui.text import escape_markdown

page_guard(__file__)
st.title("Audit trail")
check = audit.verify_chain(store())
if check.ok:
    st.success(f"Hash chain intact: {check.entries} entries.")
else:
    st.error(f"Hash chain broken at entry {check.first_bad_seq}: {escape_markdown(check.problem)}")

columns = st.columns(3)
action = columns[0].text_input("Action", placeholder="e.g. pipeline.save", max_chars=80)
actor = columns[1].text_input("Actor", max_chars=120)
limit = columns[2].number_input("Newest entries", min_value=10, max_value=100_000, value=500, step=100)
rows = audit.entries(store(), limit=int(limit), action=action.strip() or None, actor=actor.strip() or None)
st.dataframe(pd.DataFrame([{"#": e.seq, "at (UTC)": e.at, "actor": e.actor, "action": e.action,
                            "subject": e.subject, "before": e.before, "after": e.after, "hash": e.hash[:12]}
                           for e in reversed(rows)]), hide_index=True, width="stretch")
left, right = st.columns(2)
left.download_button("Export JSON", audit.export(store(), "json"), "audit.json", "application/json")
right.download_button("Export CSV", audit.export(store(), "csv"), "audit.csv", "text/csv")
