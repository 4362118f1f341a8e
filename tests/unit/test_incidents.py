"""Incidents: lifecycle, dedup, cooldown, MTTA/MTTR, threat links, permissions."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from secmlops_core.errors import UserFacingError
from secmlops_core.monitoring import incidents as inc
from secmlops_core.monitoring.rules import load_alert_rules

T0 = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture()
def rule():
    # The shipped drift rule has no cooldown (drift episodes end explicitly); the mechanism is tested with 30 min.
    return dataclasses.replace(load_alert_rules().rules["drift-share"], cooldown_minutes=30)


def _fire(store, rule, key="cam-a", at=T0, **kw):
    return inc.record_alert(store, rule=rule, dedup_key=key, title=f"Input drift on {key}", camera_id=key,
                            window=(at - timedelta(minutes=5), at), details={"summary": "drift"}, now=at, **kw)


def test_lifecycle_moves_forward_only_and_keeps_a_timeline(store, rule):
    outcome, incident_id = _fire(store, rule)
    assert outcome == "opened"
    i = inc.get_incident(store, incident_id)
    assert (i.status, i.severity, i.owner_role, i.signal) == ("open", "high", "security_operations", "drift_share")
    inc.set_status(store, incident_id, "acknowledged", "ana", now=T0 + timedelta(minutes=2))
    inc.set_status(store, incident_id, "investigating", "ana", note="night on cam-a", now=T0 + timedelta(minutes=5))
    with pytest.raises(UserFacingError, match="cannot go to acknowledged"):
        inc.set_status(store, incident_id, "acknowledged", "ana")
    inc.set_owner(store, incident_id, "ml_engineer", "ana")
    inc.add_note(store, incident_id, "retrain scheduled", "bo")
    inc.set_status(store, incident_id, "resolved", "bo", now=T0 + timedelta(minutes=20))
    i = inc.get_incident(store, incident_id)
    assert i.status == "resolved" and i.owner_role == "ml_engineer"
    assert i.time_to_acknowledge == timedelta(minutes=2) and i.time_to_resolve == timedelta(minutes=20)
    kinds = [(e.kind, e.text) for e in inc.timeline(store, incident_id)]
    assert kinds[0][0] == "opened" and ("status", "open -> acknowledged") in kinds
    assert ("note", "night on cam-a") in kinds and ("owner", "security_operations -> ml_engineer") in kinds
    for bad in (lambda: inc.set_status(store, incident_id, "closed", "x"),
                lambda: inc.add_note(store, incident_id, "  ", "x"),
                lambda: inc.set_owner(store, incident_id, "janitor", "x"),
                lambda: inc.get_incident(store, "missing")):
        with pytest.raises(UserFacingError):
            bad()


def test_dedup_while_active_then_cooldown_after_resolve(store, rule):
    _, first = _fire(store, rule)
    assert _fire(store, rule, at=T0 + timedelta(minutes=1)) == ("deduplicated", first)
    assert _fire(store, rule, at=T0 + timedelta(minutes=2)) == ("deduplicated", first)
    assert _fire(store, rule, key="cam-b", at=T0 + timedelta(minutes=2))[0] == "opened"  # another camera
    assert inc.get_incident(store, first).occurrences == 3
    inc.set_status(store, first, "resolved", "ana", now=T0 + timedelta(minutes=3))
    assert _fire(store, rule, at=T0 + timedelta(minutes=20)) == ("cooldown", None)  # 30 min after last firing
    outcome, second = _fire(store, rule, at=T0 + timedelta(minutes=33))
    assert outcome == "opened" and second != first
    # a one-off event (evidence) never opens twice, even after being resolved and with no cooldown
    attack = load_alert_rules().rules["attack-evidence"]
    _, once = _fire(store, attack, key="evidence:e1", once=True)
    inc.set_status(store, once, "resolved", "ana", now=T0 + timedelta(minutes=1))
    assert _fire(store, attack, key="evidence:e1", at=T0 + timedelta(hours=5), once=True) == ("deduplicated", once)


def test_response_stats_mtta_mttr(store, rule):
    _, a = _fire(store, rule, key="a")
    _, b = _fire(store, rule, key="b")
    _fire(store, rule, key="c")
    inc.set_status(store, a, "acknowledged", "x", now=T0 + timedelta(minutes=4))
    inc.set_status(store, a, "resolved", "x", now=T0 + timedelta(minutes=30))
    inc.set_status(store, b, "investigating", "x", now=T0 + timedelta(minutes=2))
    stats = inc.response_stats(store)
    assert stats.incidents == 3 and stats.acknowledged == 2 and stats.resolved == 1
    assert stats.mtta == timedelta(minutes=3) and stats.mttr == timedelta(minutes=30)
    assert stats.active_by_severity["high"] == 2


def test_incident_links_threats_whose_rules_watch_the_signal(store, rule, pds_pipeline):
    from secmlops_core.catalog.loading import load_catalog
    from secmlops_core.evidence import list_evidence
    from secmlops_core.threats.engine import generate_threats
    from secmlops_core.threats.register import sync_register

    sync_register(store, pds_pipeline.id, generate_threats(pds_pipeline, load_catalog()).threats)
    _, incident_id = _fire(store, rule)
    links = inc.get_incident(store, incident_id).threat_links
    assert links and all(link["pipeline_id"] == pds_pipeline.id for link in links)
    watched = inc._rules_by_signal()["drift_share"]
    assert {link["rule_id"] for link in links} <= watched
    evidence = [e for e in list_evidence(store, kind="incident") if e.source_ref == f"incident:{incident_id}"]
    assert {e.threat_id for e in evidence} == {link["threat_id"] for link in links}
    instability = load_alert_rules().rules["detection-instability"]
    _, other = _fire(store, instability, key="cam-z")
    assert {link["rule_id"] for link in inc.get_incident(store, other).threat_links} <= \
        inc._rules_by_signal()["detection_instability"]


def test_handling_incidents_needs_the_permission(store, rule):
    from secmlops_core.access.policy import PermissionDenied, Principal, acting_as

    _, incident_id = _fire(store, rule)
    viewer = Principal("vic", frozenset({"viewer"}), "Vic (viewer)")
    with acting_as(viewer):
        with pytest.raises(PermissionDenied):
            inc.set_status(store, incident_id, "acknowledged")
        with pytest.raises(PermissionDenied):
            inc.add_note(store, incident_id, "hello")
    inc.set_status(store, incident_id, "acknowledged")  # the default local operator may
    assert inc.timeline(store, incident_id)[-1].actor


def test_every_human_incident_action_is_in_the_audit_trail(store, rule):
    from secmlops_core.access import audit

    _, incident_id = _fire(store, rule)
    alert_only = [e.action for e in audit.entries(store) if e.subject == incident_id]
    assert alert_only == [], "an alert raised by the system is not a person's action"
    inc.set_status(store, incident_id, "acknowledged", "ana", note="looking")
    inc.set_owner(store, incident_id, "ml_engineer", "ana")
    inc.add_note(store, incident_id, "retrain scheduled", "bo")
    manual = inc.open_manual(store, "Camera 3 lens taped over", "high", "security_operations", "cy")
    trail = [(e.action, e.subject) for e in audit.entries(store)]
    assert trail == [("incident.status", incident_id), ("incident.note", incident_id),
                     ("incident.owner", incident_id), ("incident.note", incident_id), ("incident.open", manual)]
    status = next(e for e in audit.entries(store) if e.action == "incident.status")
    assert '"open"' in status.before and '"acknowledged"' in status.after and status.actor == "Local operator"
    assert audit.verify_chain(store).ok
