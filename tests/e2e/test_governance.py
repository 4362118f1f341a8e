"""The Governance page in a real browser: a lifecycle stage without an accountable role is
flagged; assigning one from the gap closes it and persists."""

from playwright.sync_api import expect

from secmlops_core.governance import people
from secmlops_core.store import Store
from tests.e2e.helpers import open_app_page, wait_for_app_idle

GAP_TEXT = "Lifecycle stage 'Monitoring and incident response' has no accountable role."


def test_assigning_an_accountable_role_closes_the_gap(page, app_url, app_home):
    open_app_page(page, app_url)  # first start stores the PDS pipeline
    store = Store(app_home / "secmlops.duckdb")
    people.set_raci_rows(store, "pds", {("stage", "monitoring"): {"ml_engineer": "C", "security_operations": "R"}})

    open_app_page(page, app_url, "governance")
    expect(page.get_by_role("heading", name="Governance")).to_be_visible()
    gap = page.get_by_text(GAP_TEXT)
    expect(gap).to_be_visible()
    expect(page.get_by_role("combobox", name="Accountable role").first).to_have_value("Security operations")

    page.get_by_role("button", name="Assign accountable").first.click()
    wait_for_app_idle(page)
    expect(page.get_by_text("Security operations is now accountable for Monitoring and incident response.")) \
        .to_be_visible()
    expect(gap).to_have_count(0)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    assert people.load_raci(store, "pds").rows[("stage", "monitoring")] == {"security_operations": "AR",
                                                                            "ml_engineer": "C"}

    page.reload()
    wait_for_app_idle(page)
    expect(page.get_by_role("heading", name="Governance")).to_be_visible()
    expect(page.get_by_text(GAP_TEXT)).to_have_count(0)
