"""SecMLOps Studio: page config, settings check, and navigation over pages/."""

import streamlit as st

from secmlops_core.access.policy import can, set_principal
from secmlops_core.ui.auth import sidebar_identity, sign_in_gate
from secmlops_core.ui.shell import render_settings_error, start_app

st.set_page_config(page_title="SecMLOps Studio", page_icon=":material/shield:", layout="wide")

# (section, file, title, icon); the first page is the landing page.
PAGES = [
    ("Model", "pages/designer.py", "Pipeline designer", ":material/account_tree:"),
    ("Model", "pages/threats.py", "Threats", ":material/gpp_maybe:"),
    ("Operate", "pages/live.py", "Live detector", ":material/videocam:"),
    ("Operate", "pages/monitoring.py", "Monitoring", ":material/monitoring:"),
    ("Operate", "pages/incidents.py", "Incidents", ":material/emergency:"),
    ("Operate", "pages/ops_wall.py", "Ops wall", ":material/tv:"),
    ("Govern", "pages/governance.py", "Governance", ":material/policy:"),
    ("Govern", "pages/audit.py", "Audit trail", ":material/history:"),
]

# Pages that need more than the "view" permission to be listed; kiosk screens see only the wall.
PAGE_PERMISSIONS = {"pages/audit.py": "view_audit"}
KIOSK_PAGES = {"pages/ops_wall.py"}

if not start_app():
    render_settings_error()
    st.stop()

principal = sign_in_gate()
if principal is None:
    st.stop()
set_principal(principal)
sidebar_identity(principal)

visible = [entry for entry in PAGES if can(PAGE_PERMISSIONS.get(entry[1], "view"), principal=principal)
           and (principal.auth_method != "kiosk" or entry[1] in KIOSK_PAGES)]
sections: dict[str, list] = {}
for index, (section, path, title, icon) in enumerate(visible):
    sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=index == 0))
if not sections:
    st.error("This sign-in gives access to no page.")
    st.stop()
st.navigation(sections).run()
