"""Live detector in Chromium: a runner started by the test feeds the page; frame shown, KPIs move."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sample_feed
from tests.e2e.helpers import assert_no_exception, open_app_page, wait_for_app_idle

pytestmark = pytest.mark.e2e


@pytest.fixture()
def e2e_runner(app_home):
    with sample_feed(app_home, "e2e-cam", 60) as proc:
        yield proc


def _frames_metric(page) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Frames")
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_live_page_shows_frame_and_moving_kpis(page, app_url, app_home, e2e_runner):
    open_app_page(page, app_url, "live")
    expect(page.get_by_role("heading", name="Live detector")).to_be_visible()
    expect(page.locator("[data-testid='stImage'] img").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"^e2e-cam · ")).first).to_be_visible()  # the frame's caption
    first = _frames_metric(page)
    changed = None
    for _ in range(40):  # the dashboard fragment refreshes itself every 2 s
        page.wait_for_timeout(500)
        value = _frames_metric(page)
        if value != first:
            changed = value
            break
    assert changed is not None, f"Frames KPI stayed at {first}"
    assert int(changed.replace(",", "")) > int(first.replace(",", ""))
    wait_for_app_idle(page)
    assert_no_exception(page)


def test_live_page_is_compact_and_text_has_no_emoji(browser, app_url, e2e_runner):
    from tests.e2e.test_ops_wall import PICTOGRAPH

    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_app_page(page, app_url, "live")
        image = page.locator("[data-testid='stImage'] img").first
        expect(image).to_be_visible()
        frames = page.locator("[data-testid='stMetric']").filter(has_text="Frames")
        for element in (image, frames, page.get_by_role("tab", name=re.compile("Try an image"))):
            box = element.bounding_box()
            assert box["y"] + box["height"] <= 1080, box  # above the fold at 1920x1080
        page.get_by_role("tab", name=re.compile("Try an image")).click()
        expect(page.locator("[data-testid='stFileUploader']")).to_be_visible()
        assert page.locator("[data-testid='stFileUploader']").bounding_box()["y"] < 1080
        text = page.locator("[data-testid='stApp']").inner_text()
        assert not PICTOGRAPH.findall(text), PICTOGRAPH.findall(text)
        wait_for_app_idle(page)
        assert_no_exception(page)
    finally:
        context.close()
