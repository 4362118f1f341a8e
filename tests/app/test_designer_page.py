"""The designer page's logic under Streamlit's AppTest (the graph component itself is not rendered)."""

import pytest

from secmlops_core.pipeline import library

from tests.app.conftest import home_store, run_page


@pytest.fixture()
def app(secmlops_home):
    return run_page("designer.py")


_store = home_store


def test_first_start_shows_the_pds_pipeline(app):
    assert app.title[0].value == "Pipeline designer"
    assert "Pedestrian detection system" in app.caption[0].value
    assert "18 stages" in app.caption[0].value


def test_add_stage_then_save_version_persists(app, secmlops_home):
    app.selectbox(key="add_stage_kind").set_value("adversary")
    app.text_input(key="add_stage_name").input("Roadside attacker")
    app.button(key="FormSubmitter:add_stage-Add stage").click().run()
    assert not app.exception
    assert "19 stages" in app.caption[0].value
    # The working copy is kept in the store before any explicit save.
    draft = library.load_draft(_store(secmlops_home), "pds")
    assert draft is not None and "roadside_attacker" in draft.pipeline.stage_index()

    app.text_input(key="designer:pds:label").input("with attacker")
    next(b for b in app.button if b.label == "Save version").click().run()
    assert not app.exception
    versions = library.list_versions(_store(secmlops_home), "pds")
    assert versions[0].label == "with attacker"
    assert "roadside_attacker" in library.latest(_store(secmlops_home), "pds").stage_index()
    assert library.load_draft(_store(secmlops_home), "pds") is None


def test_invalid_edit_is_refused_with_a_message(app):
    app.selectbox(key="add_flow_source").set_value("training")
    app.selectbox(key="add_flow_target").set_value("training")
    app.button(key="FormSubmitter:add_flow-Add flow").click().run()
    assert any("self-loop" in e.value for e in app.error)
    assert "20 flows" in app.caption[0].value


def test_undo_restores_previous_state(app):
    app.text_input(key="add_stage_name").input("Extra")
    app.button(key="FormSubmitter:add_stage-Add stage").click().run()
    assert "19 stages" in app.caption[0].value
    next(b for b in app.button if b.label == "Undo").click().run()
    assert "18 stages" in app.caption[0].value


def test_edit_stage_properties_through_the_panel(app):
    app.selectbox(key="designer:pds:element").set_value("training").run()
    checkbox = next(c for c in app.checkbox if c.label == "internet facing")
    checkbox.check()
    next(b for b in app.button if b.label == "Apply").click().run()
    assert not app.exception
    from secmlops_core.ui.designer import _key  # the editor lives in session state

    editor = app.session_state[_key("pds", "editor")]
    assert editor.pipeline.stage("training").properties["internet_facing"] is True


def test_new_pipeline_from_template(app, secmlops_home):
    app.selectbox(key="designer_template").set_value("fraud_api")
    app.button(key="designer_create").click().run()
    assert not app.exception
    ids = [s.pipeline_id for s in library.list_pipelines(_store(secmlops_home))]
    assert ids == ["pds", "fraud_api"]
    assert "Card-fraud scoring" in app.caption[0].value
