"""Shared fixtures: every test gets its own SECMLOPS_HOME so nothing touches a real store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ATLAS_PATH = REPO_ROOT.parent / "shared" / "reference" / "atlas" / "ATLAS.yaml"


@pytest.fixture(autouse=True)
def local_operator():
    """Tests act as the local operator (as the CLI does) unless they say otherwise."""
    from secmlops_core.access.policy import LOCAL_OPERATOR, acting_as

    with acting_as(LOCAL_OPERATOR) as principal:
        yield principal


@pytest.fixture()
def secmlops_home(tmp_path, monkeypatch) -> Path:
    """A fresh data directory, with settings and stores re-read from it."""
    from secmlops_core import settings as settings_module
    from secmlops_core.store import db

    home = tmp_path / "home"
    monkeypatch.setenv("SECMLOPS_HOME", str(home))
    monkeypatch.delenv("SECMLOPS_CONFIG", raising=False)
    settings_module.get_settings.cache_clear()
    db._stores.clear()
    yield home
    settings_module.get_settings.cache_clear()
    db._stores.clear()


@pytest.fixture()
def store(secmlops_home):
    """A Store on a fresh file in the test's home."""
    from secmlops_core.store import get_store

    return get_store(secmlops_home / "secmlops.duckdb")


@pytest.fixture()
def pds_pipeline():
    """The shipped PDS template."""
    from secmlops_core.pipeline.library import load_template

    return load_template("pds")


def pytest_configure(config):
    os.environ.setdefault("YOLO_OFFLINE", "true")
