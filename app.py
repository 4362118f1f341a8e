"""SecMLOps Studio: page config, settings check, and navigation over pages/."""

import streamlit as st

from secmlops_core.access.policy import can, set_principal
from secmlops_core.ui.auth import resolve_principal, sidebar_identity, sign_in_page
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
    ("Attack", "pages/attack_lab.py", "Attack lab", ":material/swords:"),
]

# Pages that need more than the "view" permission to be listed; kiosk screens see only the wall.
PAGE_PERMISSIONS = {"pages/audit.py": "view_audit"}
KIOSK_PAGES = {"pages/ops_wall.py"}

# Every run, whatever its URL, goes through st.navigation here: before sign-in the only page
# is the sign-in page, so no page of pages/ can be reached around the gate.
if not start_app():
    st.navigation([st.Page(render_settings_error, title="Configuration error")], position="hidden").run()
    st.stop()

principal = resolve_principal()
if principal is None:
    # The sign-in form answers at every page's address, so a deep link lands on its page after sign-in.
    st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:", default=index == 0,
                           url_path=None if index == 0 else path.split("/")[-1].removesuffix(".py"))
                   for index, (_, path, _, _) in enumerate(PAGES)], position="hidden").run()
    st.stop()
set_principal(principal)
sidebar_identity(principal)

visible = [entry for entry in PAGES if can(PAGE_PERMISSIONS.get(entry[1], "view"), principal=principal)
           and (principal.auth_method != "kiosk" or entry[1] in KIOSK_PAGES)]
kiosk = principal.auth_method == "kiosk"
sections: dict[str, list] = {}
for index, (section, path, title, icon) in enumerate(visible):
    sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=index == 0 and not kiosk))
if kiosk and visible:
    # A default page answers only at the root, so the documented kiosk link
    # /ops_wall?embed=true&kiosk=TOKEN would open "Page not found": kiosk pages keep their own
    # URL paths, and a hidden default shows the first of them at the root.
    section, path, title, icon = visible[0]
    sections[section].insert(0, st.Page(path, title=title, icon=icon, default=True, visibility="hidden",
                                        url_path="kiosk_home"))
if not sections:
    sections = {"": [st.Page(lambda: st.error("This sign-in gives access to no page."), title="No access")]}
st.navigation(sections).run()
