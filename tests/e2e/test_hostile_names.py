"""User text carrying Markdown or HTML is shown literally on every page, and makes no browser
fetch anything: a pipeline whose name, stages, flows, zones and descriptions are hostile, an
incident, a threat decision, a renamed role and attack-lab link parameters, with Playwright
watching every request the page (and its iframes) attempts."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import expect

from secmlops_core.access import users
from secmlops_core.access.policy import LOCAL_OPERATOR, acting_as
from secmlops_core.catalog.loading import load_catalog, load_roles
from secmlops_core.governance import people
from secmlops_core.monitoring import incidents as inc
from secmlops_core.pipeline import library
from secmlops_core.store import get_store
from secmlops_core.threats import register as reg
from secmlops_core.threats.assessment import assess_stored
from tests.e2e.conftest import start_streamlit, stop_process
from tests.e2e.helpers import assert_no_exception, wait_for_app_idle

pytestmark = pytest.mark.e2e

# Port 9 is the discard port: nothing listens there, so a fetch fails, but it is still attempted.
# app.py's page icon (":material/shield:") is the one product asset Streamlit fetches from Google's font CDN.
PRODUCT_ICON_CDN = "https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/"
IMAGE_MD = "![x](http://127.0.0.1:9/leak.png)"
IMAGE_HTML = "<img src=http://127.0.0.1:9/x>"
LINK = "[click](javascript:alert(1))"
HOSTILE = f"**bold** {IMAGE_MD} {IMAGE_HTML} {LINK}"
PIPELINE_NAME = f"{HOSTILE} pipeline"
PIPELINE_ID = "hostile"
THREATS_TABS = ["Register", "Heat map", "Graph and attack paths", "Stage drill-down", "Controls", "Workshop",
                "Reports"]
GOVERNANCE_TABS = ["People", "Technology", "Processes", "Governance & Compliance", "Provenance"]
DESIGNER_TABS = ["Versions and diff", "Trust zones", "Stages and flows", "Download"]


def _hostile_pipeline():
    pipeline = library.load_template("pds")
    pipeline.id, pipeline.name, pipeline.description = PIPELINE_ID, PIPELINE_NAME, HOSTILE
    for zone in pipeline.zones:
        zone.name, zone.description = f"{HOSTILE} zone {zone.id}", HOSTILE
    for stage in pipeline.stages:
        stage.name, stage.description = f"{HOSTILE} {stage.id}", HOSTILE
    for flow in pipeline.flows:
        flow.name, flow.description = f"{HOSTILE} flow", HOSTILE
    return pipeline


def _seed(home) -> None:
    """The hostile pipeline is the only one stored, so every picker shows it by default."""
    store = get_store(home / "secmlops.duckdb")
    with acting_as(LOCAL_OPERATOR):  # module fixtures run outside the per-test operator
        pipeline = _hostile_pipeline()
        library.save_version(store, pipeline, "first")
        library.save_version(store, pipeline, HOSTILE)  # two versions: Governance shows its version picker
        assessment, _ = assess_stored(store, pipeline, load_catalog(), pipeline_version=2, author="local")
        first = assessment.threats[0].id
        reg.update_entries(store, PIPELINE_ID, {first: {"status": "accepted", "justification": HOSTILE,
                                                        "ticket": "SEC-1"}})
        role = next(iter(load_roles()))
        people.update_role(store, role, name=HOSTILE[:people.MAX_NAME_CHARS], people=[HOSTILE[:100]])
        inc.open_manual(store, HOSTILE, "high", "security_operations", note=HOSTILE)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A server (sign-in off) whose store holds only hostile user text."""
    home = tmp_path_factory.mktemp("hostile") / "home"
    home.mkdir()
    _seed(home)
    process, url = start_streamlit(home)
    yield url
    stop_process(process)


def _watch_requests(page, base_url: str) -> list[str]:
    """Every request to anywhere but the app's own host and port."""
    own = urlsplit(base_url).netloc
    foreign: list[str] = []

    def record(request):
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about") or request.url.startswith(PRODUCT_ICON_CDN):
            return
        if parts.netloc != own:
            foreign.append(request.url)

    page.on("request", record)
    return foreign


def _open(page, url: str, path: str, foreign: list[str]) -> None:
    page.goto(f"{url}/{path}")
    wait_for_app_idle(page)
    page.wait_for_timeout(500)
    wait_for_app_idle(page)
    assert_no_exception(page)
    _nothing_fetched(page, foreign, path)


def _nothing_fetched(page, foreign: list[str], where: str) -> None:
    page.wait_for_timeout(300)
    assert not foreign, f"on /{where} the browser tried to fetch from elsewhere: {foreign}"


def _click_tabs(page, names: list[str], foreign: list[str]) -> None:
    for name in names:
        page.get_by_role("tab", name=name).click()
        wait_for_app_idle(page)
        assert_no_exception(page)
        _nothing_fetched(page, foreign, f"... tab {name}")


def test_hostile_text_is_literal_and_fetches_nothing_on_any_page(page, hostile_server):
    url = hostile_server
    foreign = _watch_requests(page, url)

    _open(page, url, "", foreign)  # the Pipeline designer is the landing page
    expect(page.get_by_role("heading", name="Pipeline designer")).to_be_visible()
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text=PIPELINE_NAME)
    expect(caption.first).to_be_visible()
    canvas = page.frame_locator("iframe[title='streamlit_flow.streamlit_flow']")
    expect(canvas.locator(".react-flow__node").first).to_be_visible(timeout=30_000)
    expect(canvas.locator(".react-flow__node").filter(has_text=HOSTILE).first).to_be_visible()
    _click_tabs(page, DESIGNER_TABS, foreign)

    _open(page, url, "threats", foreign)
    expect(page.locator("[data-testid='stCaptionContainer']").filter(has_text=PIPELINE_NAME).first).to_be_visible()
    _click_tabs(page, THREATS_TABS, foreign)
    page.get_by_role("tab", name="Graph and attack paths").click()
    wait_for_app_idle(page)
    jewels = page.locator("[data-testid='stCaptionContainer']").filter(has_text="Crown jewels in reach")
    expect(jewels).to_contain_text(HOSTILE)
    page.get_by_role("tab", name="Stage drill-down").click()
    wait_for_app_idle(page)
    page.locator("[data-testid='stExpander'] summary").first.click()
    wait_for_app_idle(page)
    assert_no_exception(page)

    for path in ("live", "monitoring", "ops_wall", "audit"):
        _open(page, url, path, foreign)

    _open(page, url, "incidents", foreign)
    expect(page.get_by_role("heading", name=HOSTILE)).to_be_visible()
    expect(page.locator("[data-testid='stMarkdownContainer']").filter(has_text=HOSTILE).first).to_be_visible()

    _open(page, url, "governance", foreign)
    expect(page.locator("[data-testid='stCaptionContainer']").filter(has_text=PIPELINE_NAME).first).to_be_visible()
    _click_tabs(page, GOVERNANCE_TABS, foreign)

    # Link parameters are user text too (a crafted link must not make the page fetch anything).
    hostile = quote(HOSTILE)
    _open(page, url, f"attack_lab?demo={hostile}&threat={hostile}&pipeline={hostile}", foreign)
    expect(page.locator("[data-testid='stAlert']").filter(has_text=f"demo '{HOSTILE}'")).to_be_visible()
    expect(page.locator("[data-testid='stAlert']").filter(has_text=f"Launched from threat {HOSTILE}")).to_be_visible()

    page.wait_for_timeout(1000)
    assert not foreign, f"the browser tried to fetch from elsewhere: {foreign}"
    expect(page.locator("img[src*='127.0.0.1:9']")).to_have_count(0)
    expect(page.locator("a[href^='javascript']")).to_have_count(0)


@pytest.fixture(scope="module")
def hostile_account_server(tmp_path_factory):
    """A local-accounts server with an account whose display name is hostile."""
    home = tmp_path_factory.mktemp("hostile-account") / "home"
    home.mkdir()
    with acting_as(LOCAL_OPERATOR):
        users.add_user(get_store(home / "secmlops.duckdb"), "mallory", ["viewer"], "viewer password 1",
                       display_name=HOSTILE)
    process, url = start_streamlit(home, {"SECMLOPS_AUTH_MODE": "local"})
    yield url
    stop_process(process)


def test_hostile_display_name_is_literal_and_fetches_nothing(page, hostile_account_server):
    url = hostile_account_server
    foreign = _watch_requests(page, url)
    page.goto(url)
    wait_for_app_idle(page)
    page.get_by_label("Username").fill("mallory")
    page.get_by_role("textbox", name="Password").fill("viewer password 1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Pipeline designer")).to_be_visible(timeout=30_000)
    wait_for_app_idle(page)
    page.wait_for_timeout(1000)
    assert not foreign, f"the browser tried to fetch from elsewhere: {foreign}"
    expect(page.get_by_text(f"Signed in as {HOSTILE}")).to_be_visible()
