"""The designer in a real browser: draw on the PDS template, save, reload, see it persisted."""

import re

from playwright.sync_api import expect

from secmlops_core.pipeline import library
from secmlops_core.store import Store
from tests.e2e.helpers import open_app_page, wait_for_app_idle

FLOW_FRAME = "iframe[title='streamlit_flow.streamlit_flow']"


def _caption(page):
    return page.get_by_text(re.compile(r"\d+ stages · \d+ flows"))


def _drag(page, source, target):
    box_a, box_b = source.bounding_box(), target.bounding_box()
    page.mouse.move(box_a["x"] + box_a["width"] / 2, box_a["y"] + box_a["height"] / 2)
    page.mouse.down()
    page.mouse.move(box_b["x"] + box_b["width"] / 2, box_b["y"] + box_b["height"] / 2, steps=12)
    page.mouse.up()


def test_designer_add_connect_save_reload(page, app_url, app_home):
    open_app_page(page, app_url)
    expect(page.get_by_role("heading", name="Pipeline designer")).to_be_visible()
    expect(_caption(page)).to_contain_text("18 stages · 20 flows")
    canvas = page.frame_locator(FLOW_FRAME)
    expect(canvas.locator(".react-flow__node")).to_have_count(18, timeout=30_000)

    form = page.locator("[data-testid='stForm']").filter(has_text="Add a stage")
    form.get_by_label("Name").fill("Roadside <b>attacker</b>")
    form.get_by_role("button", name="Add stage").click()
    wait_for_app_idle(page)
    expect(_caption(page)).to_contain_text("19 stages · 20 flows")
    new_node = canvas.locator(".react-flow__node[data-id='roadside_b_attacker_b']")
    expect(new_node).to_have_count(1)
    # The name is shown as text, not interpreted as markup.
    expect(new_node).to_contain_text("Roadside <b>attacker</b>")

    canvas.locator(".react-flow__controls-fitview").click()
    page.wait_for_timeout(500)
    target = canvas.locator(".react-flow__node[data-id='camera_fleet'] .react-flow__handle.target")
    _drag(page, new_node.locator(".react-flow__handle.source"), target)
    wait_for_app_idle(page)
    expect(_caption(page)).to_contain_text("19 stages · 21 flows", timeout=30_000)

    page.get_by_placeholder("e.g. after workshop 1").fill("e2e attacker")
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_text("Saved version 2 of")).to_be_visible()
    wait_for_app_idle(page)

    page.reload()
    wait_for_app_idle(page)
    expect(_caption(page)).to_contain_text("19 stages · 21 flows")
    expect(page.get_by_role("combobox").first).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    # What the page shows comes from the store, read here without the app.
    store = Store(app_home / "secmlops.duckdb")
    assert library.list_versions(store, "pds")[0].label == "e2e attacker"
    saved = library.latest(store, "pds")
    assert ("roadside_b_attacker_b", "camera_fleet") in {(f.source, f.target) for f in saved.flows}


def test_two_hundred_stage_graph_stays_usable(page, app_url, app_home):
    from secmlops_core.pipeline.layout import apply_layout
    from tests.fixtures.synthetic_pipeline import synthetic_pipeline

    big = apply_layout(synthetic_pipeline(200, 400, seed=3))
    library.save_version(Store(app_home / "secmlops.duckdb"), big, "load test")
    open_app_page(page, app_url)
    page.get_by_role("combobox", name="Pipeline").click()
    page.get_by_role("option", name=re.compile("Synthetic 200-stage")).click()
    wait_for_app_idle(page)
    expect(_caption(page)).to_contain_text("200 stages · 400 flows")
    canvas = page.frame_locator(FLOW_FRAME)
    expect(canvas.locator(".react-flow__node")).to_have_count(200, timeout=60_000)
    form = page.locator("[data-testid='stForm']").filter(has_text="Add a stage")
    form.get_by_label("Name").fill("One more")
    form.get_by_role("button", name="Add stage").click()
    wait_for_app_idle(page)
    expect(_caption(page)).to_contain_text("201 stages · 400 flows")
    expect(canvas.locator(".react-flow__node")).to_have_count(201, timeout=60_000)
