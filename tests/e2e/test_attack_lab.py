"""Attack lab in Chromium: a fast PGD vanish on bus.jpg through the page; the pedestrian count drops."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_no_exception, open_app_page, run_small_attack, wait_for_app_idle

pytestmark = pytest.mark.e2e


def _metric(page, label: str) -> int:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label)
    return int(metric.locator("[data-testid='stMetricValue']").inner_text().strip())


def test_pgd_vanish_on_the_sample_drops_the_pedestrian_count(page, app_url):
    open_app_page(page, app_url, "attack_lab?demo=pgd-vanish")
    attacked = run_small_attack(page)
    expect(attacked).to_be_visible(timeout=240_000)
    wait_for_app_idle(page)
    assert_no_exception(page)
    clean, after = _metric(page, "Pedestrians (clean)"), _metric(page, "Pedestrians (attacked)")
    assert clean == 4 and after < clean
    expect(page.get_by_text("Recent runs")).to_be_visible()
