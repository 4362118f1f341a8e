"""The Threats page in a real browser: decide on a threat, reload, see it persisted; download
the HTML report."""

import re

from playwright.sync_api import expect

from secmlops_core.store import Store
from secmlops_core.threats import register as reg
from secmlops_core.threats.engine import threat_id
from tests.e2e.helpers import open_app_page, wait_for_app_idle

THREAT = threat_id("SML-LBL-001", "stage", "crowd_labeling")
THREAT_LABEL = re.compile(r"^Label flipping by crowd workers — stage crowd_labeling")


def _choose(page, combobox, typed: str, option=None) -> None:
    """Pick an option of a Streamlit selectbox by typing into it (long lists are virtualised)."""
    combobox.click()
    page.keyboard.type(typed)
    page.get_by_role("option", name=option or typed, exact=option is None).click()
    wait_for_app_idle(page)


def _decision_form(page):
    page.get_by_text("Decide on one threat").click()
    _choose(page, page.get_by_role("combobox", name="Threat"), "Label flipping by crowd", THREAT_LABEL)
    return page.locator("[data-testid='stForm']").filter(has_text="Save decision")


def test_status_change_persists_across_reload(page, app_url, app_home):
    open_app_page(page, app_url, "threats")
    expect(page.get_by_role("heading", name="Threats")).to_be_visible()
    expect(page.get_by_text(re.compile(r"threats from \d+ rules"))).to_be_visible()

    form = _decision_form(page)
    _choose(page, form.get_by_role("combobox", name="Status"), "in progress")
    form.get_by_label("Ticket (key or https link)").fill("SEC-77")
    form.get_by_role("button", name="Save decision").click()
    wait_for_app_idle(page)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)

    page.reload()
    wait_for_app_idle(page)
    form = _decision_form(page)
    expect(form.get_by_role("combobox", name="Status")).to_have_value("in progress")
    expect(form.get_by_label("Ticket (key or https link)")).to_have_value("SEC-77")
    entries, _ = reg.load_register(Store(app_home / "secmlops.duckdb"), "pds")
    assert entries[THREAT].status == "in_progress" and entries[THREAT].ticket == "SEC-77"


def test_download_html_report(page, app_url, tmp_path):
    open_app_page(page, app_url, "threats")
    page.get_by_role("tab", name="Reports").click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile("HTML \\(printable\\)")).click()
    download = download_info.value
    assert download.suggested_filename == "pds-threats.html"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Threat model:" in html
    assert "<svg" in html and "Risk heat map" in html
