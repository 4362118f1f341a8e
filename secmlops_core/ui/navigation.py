"""The app's pages: where each sits in the navigation, what it needs, and who may see it.

``app.py`` builds the navigation from :data:`PAGES`; each page's own guard reads its
permission from the same entry, so a page's permission is stated once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secmlops_core.access.policy import Principal, can


@dataclass(frozen=True)
class AppPage:
    """One page of the app."""

    section: str
    path: str  # relative to the repository root, as st.Page takes it
    title: str
    icon: str
    permission: str = "view"  # needed to list and open the page
    kiosk: bool = False  # shown to kiosk screens (which see nothing else)

    @property
    def url_path(self) -> str:
        """The page's address (its file name without ``.py``)."""
        return Path(self.path).stem


# The first page a principal may see is their landing page.
PAGES: tuple[AppPage, ...] = (
    AppPage("Model", "pages/designer.py", "Pipeline designer", ":material/account_tree:"),
    AppPage("Model", "pages/threats.py", "Threats", ":material/gpp_maybe:"),
    AppPage("Operate", "pages/live.py", "Live detector", ":material/videocam:"),
    AppPage("Operate", "pages/monitoring.py", "Monitoring", ":material/monitoring:"),
    AppPage("Operate", "pages/incidents.py", "Incidents", ":material/emergency:"),
    AppPage("Operate", "pages/ops_wall.py", "Ops wall", ":material/tv:", kiosk=True),
    AppPage("Govern", "pages/governance.py", "Governance", ":material/policy:"),
    AppPage("Govern", "pages/audit.py", "Audit trail", ":material/history:", permission="view_audit"),
    AppPage("Attack", "pages/attack_lab.py", "Attack lab", ":material/swords:"),
)


def page_for(page_file: str) -> AppPage:
    """The entry of the page whose script is ``page_file`` (a path ending in its file name)."""
    name = Path(page_file).name
    for page in PAGES:
        if Path(page.path).name == name:
            return page
    raise KeyError(f"{page_file} is not one of the app's pages")


def visible_pages(principal: Principal) -> list[AppPage]:
    """The pages this principal may open, in navigation order (kiosk screens: the kiosk pages only)."""
    kiosk = principal.auth_method == "kiosk"
    return [page for page in PAGES if can(page.permission, principal=principal) and (page.kiosk or not kiosk)]
