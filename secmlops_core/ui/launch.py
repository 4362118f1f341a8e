"""Start Streamlit for SecMLOps Studio: `python -m secmlops_core.ui.launch run app.py [...]`.

Streamlit runs the first request of a fresh server in its old multipage mode whenever a
`pages/` folder sits next to the main script: a first visit to `/designer` would run that
page without `app.py` (and so without its sign-in gate). Declaring up front that the app
uses `st.navigation` closes that path; every page also calls `shell.page_guard()`.
"""

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

PagesManager.uses_pages_directory = False

if __name__ == "__main__":
    main()
