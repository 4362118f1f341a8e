"""Alert rules as data and the evaluator: each rule fires on real telemetry/evidence, dedup, rate limit."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import pytest
import yaml

from secmlops_core.errors import ValidationFailed
from secmlops_core.monitoring import evaluate as ev
from secmlops_core.monitoring import incidents as inc
from secmlops_core.monitoring.rules import KINDS, load_alert_rules, parse_alert_rules

NOW = datetime(2026, 3, 1, 12, 0, 0)


def test_shipped_rules_cover_every_kind_with_a_runbook():
    catalog = load_alert_rules()
    assert {r.kind for r in catalog.rules.values()} == set(KINDS)
    for rule in catalog.rules.values():
        assert catalog.runbooks[rule.runbook].steps
    assert catalog.rules["drift-share"].signal == "drift_share"
    assert catalog.rules["detection-instability"].signal == "detection_instability"


def test_invalid_rules_are_refused_with_every_problem():
    document = {"runbooks": {"rb": {"title": "x", "steps": ["do"]}},
                "rules": [{"id": "a", "kind": "nope"},
                          {"id": "b", "kind": "latency_slo", "severity": "urgent", "owner_role": "janitor",
                           "runbook": "missing", "cooldown_minutes": -1, "params": {"window_minutes": 5, "p95": 1}}]}
    with pytest.raises(ValidationFailed) as info:
        parse_alert_rules(document, "rules.yaml")
    text = "\n".join(info.value.problems)
    for expected in ("kind 'nope'", "severity", "janitor", "runbook 'missing'", "cooldown_minutes",
                     "params missing min_frames, p95_ms", "unknown params p95"):
        assert expected in text


def test_operator_rules_file_overrides_the_shipped_one(secmlops_home):
    from importlib import resources

    shipped = yaml.safe_load(resources.files("secmlops_core.catalog").joinpath("alert_rules.yaml").read_text())
    shipped["rules"] = [r for r in shipped["rules"] if r["id"] == "latency-slo"]
    shipped["rules"][0]["params"]["p95_ms"] = 50
    secmlops_home.mkdir(parents=True, exist_ok=True)
    (secmlops_home / "alert_rules.yaml").write_text(yaml.safe_dump(shipped), encoding="utf-8")
    catalog = load_alert_rules(secmlops_home)
    assert list(catalog.rules) == ["latency-slo"] and catalog.rules["latency-slo"].params["p95_ms"] == 50


def _write(settings, camera, start, count, step_s, *, shift=0.0, latency=None, seed=0):
    from tests.fixtures.synthetic_telemetry import synthetic_events
    from secmlops_core.telemetry.writer import TelemetryWriter

    rows = synthetic_events(start, count, camera=camera, step_s=step_s, seed=seed)
    for row in rows:
        row.update(pedestrians=3, detections=3, class_counts={"pedestrian (upright)": 3})
        for column, std in (("brightness", 10), ("contrast", 5), ("sharpness", 300), ("colourfulness", 4),
                            ("entropy", 0.1)):
            row[column] += shift * std
        if latency is not None:
            row["latency_ms"] = latency
    writer = TelemetryWriter(settings.telemetry_dir, camera)
    writer.add_many(rows)
    writer.flush()


@pytest.fixture()
def world(secmlops_home, store):
    """cam-steady (no change), cam-night (image statistics shifted in the last 5 min), cam-slow (3 s latency)."""
    from secmlops_core.settings import get_settings

    settings = get_settings()
    for seed, camera in enumerate(("cam-steady", "cam-night", "cam-slow")):
        _write(settings, camera, NOW - timedelta(minutes=35), 300, 6.0, seed=seed)
        _write(settings, camera, NOW - timedelta(minutes=5), 100, 3.0, seed=10 + seed,
               shift=2.0 if camera == "cam-night" else 0.0, latency=3000.0 if camera == "cam-slow" else None)
    return settings, store


def _opened(report):
    return sorted((rule, key) for rule, key, outcome, _ in report.outcomes if outcome == "opened")


def test_evaluator_opens_incidents_for_drift_and_latency_only(world):
    from secmlops_core.monitoring.snapshots import list_snapshots

    settings, store = world
    report = ev.evaluate(store, settings, now=NOW)
    assert report.problems == []
    assert _opened(report) == [("drift-share", "cam-night"), ("latency-slo", "cam-slow")]
    snaps = {s.camera_id: s for s in list_snapshots(store)}
    assert snaps["cam-night"].dataset_drift and not snaps["cam-steady"].dataset_drift
    incident = next(i for i in inc.list_incidents(store) if i.rule_id == "drift-share")
    assert incident.details["snapshot_id"] == snaps["cam-night"].snapshot_id
    assert incident.window_end == NOW and incident.camera_id == "cam-night"
    again = ev.evaluate(store, settings, now=NOW + timedelta(seconds=10))
    assert {o for _, _, o, _ in again.outcomes} == {"deduplicated"} and not again.opened
    assert ev.evaluate(store, settings, now=NOW + timedelta(seconds=12), min_interval_s=5).skipped
    assert len(list_snapshots(store)) == 4  # a snapshot per camera, plus the repeated drift firing


def test_feed_down_attack_evidence_and_instability_from_evidence(secmlops_home, store):
    from secmlops_core.evidence import add_evidence
    from secmlops_core.feed import state
    from secmlops_core.settings import get_settings
    from secmlops_core.telemetry.writer import utc_now

    settings = get_settings()
    settings.ensure_dirs()
    old = time.time() - 120
    state.write_status(settings, state.FeedStatus(camera_id="cam-gone", state="up", pid=2 ** 22 + 7,
                                                  started_at=old, heartbeat_at=old, last_frame_at=old))
    state.write_status(settings, state.FeedStatus(camera_id="cam-done", state="stopped", pid=os.getpid(),
                                                  started_at=old, heartbeat_at=old))
    add_evidence(store, "attack_run", "run:1", "PGD vanish on bus.jpg: 4 -> 0 pedestrians", outcome="fail",
                 metrics={"detection_instability": 0.9})  # a demo run: evidence, not an operations matter
    reported = add_evidence(store, "attack_run", "run:2", "PGD vanish on bus.jpg: 4 -> 0 pedestrians",
                            outcome="fail", metrics={"detection_instability": 0.9, "reported_to_operations": True})
    report = ev.evaluate(store, settings, now=utc_now())
    opened = _opened(report)
    assert ("feed-down", "cam-gone") in opened and not any(key == "cam-done" for _, key in opened)
    assert [(r, k) for r, k in opened if k.startswith("evidence:")] == [
        ("attack-evidence", f"evidence:{reported.evidence_id}"),
        ("detection-instability", f"evidence:{reported.evidence_id}")]
    attack = next(i for i in inc.list_incidents(store) if i.rule_id == "attack-evidence")
    assert attack.severity == "high"  # the attack succeeded
    feed = next(i for i in inc.list_incidents(store) if i.rule_id == "feed-down")
    assert feed.severity == "critical" and "down" in feed.title
    later = ev.evaluate(store, settings, now=utc_now() + timedelta(minutes=1))
    assert not later.opened


def test_a_broken_rule_is_reported_and_the_others_still_run(world, monkeypatch):
    settings, store = world

    def broken(ctx, rule):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(ev.EVALUATORS, "confidence_drop", broken)
    report = ev.evaluate(store, settings, now=NOW)
    assert report.problems == ["confidence-drop: RuntimeError: disk on fire"]
    assert ("latency-slo", "cam-slow") in _opened(report)
