"""Ops wall: big-screen status tiles, live frames and a rotating detail panel (open with ?embed=true)."""

from secmlops_core.ui import wall
from secmlops_core.ui.shell import page_guard

page_guard(__file__)
wall.render()
