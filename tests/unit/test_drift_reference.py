"""Drift references (pinned, settled), tests that hold on an unchanged autocorrelated stream, drift
episodes as distinct incidents and timeline events."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from secmlops_core.monitoring import reference as refs
from secmlops_core.monitoring.windows import Window

T0 = datetime(2026, 3, 1, 8, 0, 0)
LOOP_S = 80.0  # like the sample video: the scene repeats every 80 s
SHIFTED = {"night": -3.0, "fog": 4.0, "rain": 6.0}  # image statistics moved by this many spreads


def _stream(start: datetime, minutes: float, *, camera: str = "cam-a", scenario: str = "normal", fps: float = 2.0,
            seed: int = 0) -> list[dict]:
    """A looping scene with slowly varying, strongly autocorrelated statistics (a fixed street camera).

    ``scenario`` other than normal shifts the image statistics by ``SHIFTED[scenario]`` spreads.
    """
    from tests.fixtures.synthetic_telemetry import synthetic_events

    count = int(minutes * 60 * fps)
    rows = synthetic_events(start, count, camera=camera, step_s=1 / fps, seed=seed)
    rng = np.random.default_rng(seed)
    t = np.array([(r["ts"] - T0).total_seconds() for r in rows])
    phase = np.sin(2 * np.pi * t / LOOP_S)
    noise = np.zeros(count)
    for i in range(1, count):  # AR(1): neighbouring frames nearly equal
        noise[i] = 0.97 * noise[i - 1] + rng.normal(0, 0.1)
    shift = SHIFTED.get(scenario, 0.0)
    for i, row in enumerate(rows):
        people = int(round(3 + 2 * phase[i]))
        row.update(scenario=scenario, pedestrians=people, detections=people,
                   class_counts={"pedestrian (upright)": people},
                   mean_confidence=0.5 + 0.03 * phase[i] + 0.005 * noise[i])
        for column, mean, spread in (("brightness", 115, 1.0), ("contrast", 60, 0.5), ("sharpness", 2500, 30.0),
                                     ("colourfulness", 35, 0.4), ("entropy", 7.5, 0.01)):
            row[column] = mean + spread * (phase[i] + 0.5 * noise[i] + shift)
    return rows


def _write(settings, rows, camera="cam-a") -> None:
    from secmlops_core.telemetry.writer import TelemetryWriter

    writer = TelemetryWriter(settings.telemetry_dir, camera)
    writer.add_many(rows)
    writer.flush()


@pytest.fixture()
def settings(secmlops_home):
    from secmlops_core.settings import get_settings

    return get_settings()


def test_pin_show_clear_is_stored_permission_checked_and_audited(settings, store):
    from secmlops_core.access import audit
    from secmlops_core.access.policy import PermissionDenied, Principal, acting_as
    from secmlops_core.errors import UserFacingError

    _write(settings, _stream(T0, 30))
    window = Window(T0 + timedelta(minutes=5), T0 + timedelta(minutes=15))
    viewer = Principal("vic", frozenset({"viewer"}), "Vic (viewer)")
    with acting_as(viewer):
        with pytest.raises(PermissionDenied):
            refs.pin_reference(store, "cam-a", window)
    assert refs.get_reference(store, "cam-a") is None
    with pytest.raises(UserFacingError, match="0 frame"):
        refs.pin_reference(store, "cam-a", Window(T0 - timedelta(hours=2), T0 - timedelta(hours=1)))
    pinned = refs.pin_reference(store, "cam-a", window, "clear morning", now=T0 + timedelta(hours=1))
    assert (pinned.kind, pinned.window, pinned.note) == ("pinned", window, "clear morning")
    assert refs.get_reference(store, "cam-a") == pinned and "pinned by Local operator" in pinned.origin
    with acting_as(viewer):
        with pytest.raises(PermissionDenied):
            refs.clear_reference(store, "cam-a")
    assert refs.clear_reference(store, "cam-a") == pinned
    assert refs.get_reference(store, "cam-a") is None and refs.clear_reference(store, "cam-a") is None
    trail = [(e.action, e.subject) for e in audit.entries(store)]
    assert trail == [("drift.reference.pin", "camera:cam-a"), ("drift.reference.clear", "camera:cam-a")]
    assert audit.verify_chain(store).ok


def test_default_reference_is_the_first_settled_normal_stretch_stored_once(settings, store):
    from secmlops_core.access import audit

    spec = refs.SettledSpec(settle_minutes=1, minutes=10, scenario="normal", max_gap_seconds=120)
    # 5 min normal (too short once settled), 2 min fog, then normal from minute 7.
    _write(settings, _stream(T0, 5) + _stream(T0 + timedelta(minutes=5), 2, scenario="fog", seed=1)
           + _stream(T0 + timedelta(minutes=7), 30, seed=2))
    assert refs.find_settled("cam-a", spec, now=T0 + timedelta(minutes=16)) is None  # not 10 normal minutes yet
    assert refs.effective_reference(store, "cam-a", spec, now=T0 + timedelta(minutes=16)) is None
    found = refs.effective_reference(store, "cam-a", spec, now=T0 + timedelta(minutes=30))
    assert found.kind == "settled" and found.window == Window(T0 + timedelta(minutes=7),
                                                              T0 + timedelta(minutes=17))
    later = refs.effective_reference(store, "cam-a", spec, now=T0 + timedelta(minutes=37))
    assert later == found  # kept, not re-found or moved
    assert [e.action for e in audit.entries(store)] == ["drift.reference.settled"]
    pinned = refs.pin_reference(store, "cam-a", Window(T0 + timedelta(minutes=20), T0 + timedelta(minutes=30)))
    assert refs.effective_reference(store, "cam-a", spec, now=T0 + timedelta(minutes=37)) == pinned
    refs.clear_reference(store, "cam-a")
    assert refs.get_reference(store, "cam-a") == found


def test_a_restarted_runner_settles_again(settings, store):
    spec = refs.SettledSpec(settle_minutes=1, minutes=5, scenario="normal", max_gap_seconds=120)
    _write(settings, _stream(T0, 3) + _stream(T0 + timedelta(minutes=10), 20, seed=1))
    window = refs.find_settled("cam-a", spec, now=T0 + timedelta(minutes=30))
    assert window.start >= T0 + timedelta(minutes=11)


def _windows(minutes: int, start: datetime, current_minutes: float = 5):
    """Consecutive current windows, one every 30 s, over ``minutes``."""
    for k in range(minutes * 2):
        end = start + timedelta(minutes=current_minutes, seconds=30 * k)
        yield Window(end - timedelta(minutes=current_minutes), end)


def test_unchanged_autocorrelated_stream_never_drifts_with_the_configured_tests(settings):
    from secmlops_core.monitoring.drift import compute_drift, configured_tests

    tests, share = configured_tests()
    assert tests and all(t.method in {"wasserstein", "jensenshannon"} for t in tests.values())
    _write(settings, _stream(T0, 50))
    reference = Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=6))  # 600 frames: Evidently would pick K-S
    rejected_by_ks = 0
    for current in _windows(10, T0 + timedelta(minutes=6)):
        result = compute_drift(reference, current, "cam-a", tests=tests, drift_share=share)
        assert not result.dataset_drift and not result.drifted_columns, (current.label(), result.drifted_columns)
        default = compute_drift(reference, current, "cam-a")  # Evidently's own choice of test
        rejected_by_ks += default.dataset_drift and all(c.test.startswith("K-S") for c in default.columns
                                                         if c.column in default.drifted_columns)
    assert rejected_by_ks >= 3, "the stream is autocorrelated enough that K-S rejects the unchanged scene"


def test_shifted_stream_drifts(settings):
    from secmlops_core.monitoring.drift import compute_drift, configured_tests

    tests, share = configured_tests()
    _write(settings, _stream(T0, 20) + _stream(T0 + timedelta(minutes=20), 5, scenario="fog", seed=1))
    result = compute_drift(Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=11)),
                           Window(T0 + timedelta(minutes=22), T0 + timedelta(minutes=25)), "cam-a", tests=tests,
                           drift_share=share)
    assert result.dataset_drift
    assert {"brightness", "contrast", "sharpness", "colourfulness", "entropy"} <= set(result.drifted_columns)
    assert result.configured and result.methods == {c: t.method for c, t in tests.items()}


def test_binned_verdicts_equal_raw_ones_with_the_configured_tests(settings):
    from secmlops_core.monitoring.drift import compute_drift, configured_tests

    tests, share = configured_tests()
    _write(settings, _stream(T0, 20) + _stream(T0 + timedelta(minutes=20), 5, scenario="night", seed=1))
    ref, cur = Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=11)), \
        Window(T0 + timedelta(minutes=18), T0 + timedelta(minutes=23))
    raw = compute_drift(ref, cur, "cam-a", tests=tests, drift_share=share, mode="raw")
    binned = compute_drift(ref, cur, "cam-a", tests=tests, drift_share=share, mode="binned")
    assert binned.mode == "binned" and binned.verdicts() == raw.verdicts()
    for a, b in zip(raw.columns, binned.columns):
        assert (a.test, a.threshold) == (b.test, b.threshold)
    from secmlops_core.monitoring.drift import is_drifted, run_evidently

    columns = [c.column for c in raw.columns]
    _, found = run_evidently(raw.reference_data, raw.current_data, columns, {c: tests[c].method for c in columns},
                             share, {c: tests[c].threshold for c in columns})
    assert {c: is_drifted(test, score, limit) for c, (test, limit, score) in found.items()} == raw.verdicts()
    assert {c: limit for c, (_, limit, _) in found.items()} == {c: tests[c].threshold for c in columns}


def _evaluate(store, settings, at):
    from secmlops_core.monitoring.evaluate import evaluate

    report = evaluate(store, settings, now=at)
    assert report.problems == []
    return [(rule, key, outcome, incident) for rule, key, outcome, incident in report.outcomes]


def test_drift_episodes_are_distinct_incidents_and_timeline_events(settings, store):
    from secmlops_core.monitoring import incidents as inc
    from secmlops_core.monitoring.events import recent_events

    # normal 20 min, fog 3 min, rain 3 min, normal 10 min, fog again 3 min
    plan = [("normal", 20), ("fog", 3), ("rain", 3), ("normal", 10), ("fog", 3)]
    rows, start = [], T0
    for n, (scenario, minutes) in enumerate(plan):
        rows += _stream(start, minutes, scenario=scenario, seed=n)
        start += timedelta(minutes=minutes)
    _write(settings, rows)
    outcomes = {}
    for k in range(1, 40):  # the rules once a minute
        at = T0 + timedelta(minutes=k)
        outcomes[at] = [o for o in _evaluate(store, settings, at) if o[0] == "drift-share"]
    normal = [o for at, out in outcomes.items() if at <= T0 + timedelta(minutes=20) for o in out]
    assert normal == [], "no drift on the unchanged scene"
    opened = [(at, key, i) for at, out in outcomes.items() for _, key, o, i in out if o == "opened"]
    assert [key for _, key, _ in opened] == ["cam-a:fog", "cam-a:rain", "cam-a:fog"]
    assert opened[0][0] == T0 + timedelta(minutes=21)  # detected at the first evaluation after the switch
    first_fog, rain, second_fog = (inc.get_incident(store, i) for _, _, i in opened)
    assert len({first_fog.incident_id, rain.incident_id, second_fog.incident_id}) == 3
    assert first_fog.cause == "fog" and first_fog.ended_at == opened[1][0]  # superseded by rain
    assert rain.ended_at is not None and T0 + timedelta(minutes=26) < rain.ended_at < T0 + timedelta(minutes=36)
    assert second_fog.ended_at is None and second_fog.active
    kinds = [e.kind for e in inc.timeline(store, rain.incident_id)]
    assert kinds[0] == "opened" and "drift-end" in kinds
    events = recent_events(store, settings, since=T0, camera_id="cam-a", until=T0 + timedelta(minutes=40))
    assert [e.kind for e in events if e.kind == "scenario_switch"] == ["scenario_switch"] * 4
    drift = [(e.kind, e.incident_id) for e in events if e.kind.startswith("drift")]
    assert drift == [("drift_start", first_fog.incident_id), ("drift_start", rain.incident_id),
                     ("drift_end", first_fog.incident_id), ("drift_end", rain.incident_id),
                     ("drift_start", second_fog.incident_id)] or \
        drift == [("drift_start", first_fog.incident_id), ("drift_end", first_fog.incident_id),
                  ("drift_start", rain.incident_id), ("drift_end", rain.incident_id),
                  ("drift_start", second_fog.incident_id)]
    switch = next(e for e in events if e.kind == "scenario_switch")
    assert switch.at == T0 + timedelta(minutes=20) and "normal to fog" in switch.detail
