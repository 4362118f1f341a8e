"""SecMLOps Studio: page config, settings check, and navigation over pages/."""

import streamlit as st

from secmlops_core.ui.shell import render_settings_error, start_app

st.set_page_config(page_title="SecMLOps Studio", page_icon=":material/shield:", layout="wide")

# (section, file, title, icon); the first page is the landing page.
PAGES = [
    ("Model", "pages/designer.py", "Pipeline designer", ":material/account_tree:"),
    ("Model", "pages/threats.py", "Threats", ":material/gpp_maybe:"),
]

if not start_app():
    render_settings_error()
    st.stop()

sections: dict[str, list] = {}
for index, (section, path, title, icon) in enumerate(PAGES):
    sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=index == 0))
st.navigation(sections).run()
