"""SecMLOps Studio: page config, settings check, and navigation over pages/."""

import streamlit as st

from secmlops_core.access.policy import set_principal
from secmlops_core.ui.auth import resolve_principal, sidebar_identity, sign_in_page
from secmlops_core.ui.navigation import PAGES, visible_pages
from secmlops_core.ui.shell import render_settings_error, start_app

st.set_page_config(page_title="SecMLOps Studio", page_icon=":material/shield:", layout="wide")

# Every run, whatever its URL, goes through st.navigation here: before sign-in the only page
# is the sign-in page, so no page of pages/ can be reached around the gate.
if not start_app():
    st.navigation([st.Page(render_settings_error, title="Configuration error")], position="hidden").run()
    st.stop()

principal = resolve_principal()
if principal is None:
    # The sign-in form answers at every page's address, so a deep link lands on its page after sign-in.
    st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:", default=index == 0,
                           url_path=None if index == 0 else page.url_path)
                   for index, page in enumerate(PAGES)], position="hidden").run()
    st.stop()
set_principal(principal)
visible = visible_pages(principal)
kiosk = principal.auth_method == "kiosk"
# A kiosk screen, or any page opened with ?embed=true, shows the page alone: no sidebar, no menu.
chromeless = kiosk or bool(st.context.is_embedded)
if not chromeless:
    sidebar_identity(principal)
sections: dict[str, list] = {}
for index, page in enumerate(visible):
    sections.setdefault(page.section, []).append(st.Page(page.path, title=page.title, icon=page.icon,
                                                         default=index == 0 and not kiosk))
if kiosk and visible:
    # A default page answers only at the root, so the documented kiosk link
    # /ops_wall?embed=true&kiosk=TOKEN would open "Page not found": kiosk pages keep their own
    # URL paths, and a hidden default shows the first of them at the root.
    first = visible[0]
    sections[first.section].insert(0, st.Page(first.path, title=first.title, icon=first.icon, default=True,
                                              visibility="hidden", url_path="kiosk_home"))
if not sections:
    sections = {"": [st.Page(lambda: st.error("This sign-in gives access to no page."), title="No access")]}
st.navigation(sections, position="hidden" if chromeless else "sidebar").run()
