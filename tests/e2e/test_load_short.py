"""The load benchmark, shortened for CI: several sessions across every page while a feed runs."""

import pytest

from tests.bench.bench_load import MEMORY_GROWTH_BOUND_MB
from tests.load_session import run_load

pytestmark = pytest.mark.e2e


def test_sessions_across_pages_with_a_feed_stay_error_free(tmp_path, browser):
    result = run_load(tmp_path / "home", sessions=4, feeds=1, duration_s=45, dwell_s=2, browser=browser)
    assert result.page_loads >= 8
    assert result.errors == []
    assert result.memory_growth_mb <= MEMORY_GROWTH_BOUND_MB
