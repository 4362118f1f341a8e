"""``secmlops drift``, ``secmlops monitor`` and ``secmlops incidents``."""

from __future__ import annotations

import json
import sys
import time

from secmlops_core.cli import common
from secmlops_core.cli.common import add_command, command_group


def register(subparsers) -> None:
    """Add the monitoring subcommands."""
    drift = subparsers.add_parser("drift", help="compare a current telemetry window with a reference (Evidently)",
                                  description="Exit code 0: no dataset drift, 1: dataset drift, 2: invalid input. "
                                  "`secmlops drift reference show|pin|clear` manages each camera's reference.")
    drift.add_argument("--camera", help="one camera (default: all cameras together)")
    drift.add_argument("--reference", metavar="START..END",
                       help="ISO times, now, or relative to now; write relative ones as --reference=-2h..-1h "
                            "(default with --camera: the camera's drift reference)")
    drift.add_argument("--current", metavar="START..END", help="default: the last 5 minutes")
    drift.add_argument("--evidently-defaults", action="store_true",
                       help="Evidently's default test per column instead of the drift rule's tests and thresholds")
    drift.add_argument("--mode", choices=("auto", "raw", "binned"), default="auto",
                       help="raw: Evidently on every row; binned: DuckDB quantile summaries (auto above 20k rows)")
    drift.add_argument("--html", metavar="PATH", help="also write Evidently's HTML report here")
    drift.add_argument("--save", action="store_true", help="store the result as a drift snapshot (and evidence)")
    drift.add_argument("--json", action="store_true")
    drift.set_defaults(handler=_drift)
    ref_sub = drift.add_subparsers(dest="drift_command", metavar="{reference}")
    reference = command_group(ref_sub, "reference", "each camera's pinned or settled drift reference",
                              dest="reference_command")
    show = add_command(reference, "show", "the reference in force per camera (pinned, else settled)", _ref_show)
    show.add_argument("--camera")
    show.add_argument("--json", action="store_true")
    pin = add_command(reference, "pin", "pin a baseline window as a camera's reference (audited)", _ref_pin)
    pin.add_argument("--camera", required=True)
    pin.add_argument("--window", required=True, metavar="START..END",
                     help="the baseline, e.g. --window=-70m..-10m or 2026-01-31T10:00..2026-01-31T11:00")
    pin.add_argument("--note", default="", help="why this window (kept with the reference)")
    clear = add_command(reference, "clear", "remove a camera's pinned reference (the settled one applies)",
                        _ref_clear)
    clear.add_argument("--camera", required=True)

    monitor = add_command(subparsers, "monitor", "evaluate the alert rules (once, or in a loop)", _monitor)
    monitor.add_argument("--every", type=float, default=None, metavar="SECONDS",
                         help="loop, evaluating this often (default: once)")
    monitor.add_argument("--json", action="store_true")

    sub = command_group(subparsers, "incidents", "list incidents and move them through their lifecycle",
                        dest="incidents_command")
    listing = add_command(sub, "list", "incidents, most severe active first", _list)
    listing.add_argument("--all", action="store_true", help="include resolved incidents")
    listing.add_argument("--json", action="store_true")
    add_command(sub, "show", "one incident with its timeline and runbook", _show).add_argument("incident_id")
    for status, verb in (("acknowledged", "ack"), ("investigating", "investigate"), ("resolved", "resolve")):
        p = add_command(sub, verb, f"mark an incident {status}", _transition, status=status)
        p.add_argument("incident_id")
        p.add_argument("--by", help="who acts (default: the local operator)")
        p.add_argument("--note", default="")
    note = add_command(sub, "note", "add a note to an incident's timeline", _note)
    note.add_argument("incident_id")
    note.add_argument("text")
    note.add_argument("--by")


def _drift(args) -> int:
    from pathlib import Path

    from secmlops_core.errors import UserFacingError
    from secmlops_core.monitoring.drift import compute_drift, configured_tests
    from secmlops_core.monitoring.reference import get_reference
    from secmlops_core.monitoring.snapshots import save_snapshot
    from secmlops_core.monitoring.windows import parse_window
    from secmlops_core.settings import get_settings
    from secmlops_core.telemetry.writer import utc_now

    now = utc_now()
    if args.reference:
        reference = parse_window(args.reference, now, "reference window")
    else:
        found = get_reference(common.store(), args.camera) if args.camera else None
        if found is None:
            raise UserFacingError("give --reference START..END" + (
                f": camera {args.camera!r} has no drift reference yet (pin one with `secmlops drift reference pin`)"
                if args.camera else ", or --camera to use that camera's drift reference"))
        reference = found.window
    current = parse_window(args.current or "-5m..now", now, "current window")
    tests, share = ({}, 0.5) if args.evidently_defaults else configured_tests(get_settings().home)
    result = compute_drift(reference, current, args.camera, mode=args.mode, tests=tests, drift_share=share)
    out = result.as_dict()
    if args.save:
        out["snapshot_id"] = save_snapshot(common.store(), result, trigger="cli")
    if args.html:
        Path(args.html).write_text(result.html(), encoding="utf-8")
        out["html"] = str(Path(args.html).resolve())
    if args.json:
        print(json.dumps(out, default=str))
    else:
        where = f"camera {result.camera}" if result.camera else "all cameras"
        print(f"drift on {where}: {len(result.drifted_columns)}/{len(result.columns)} columns drifted "
              f"(share {result.drift_share:.2f}, dataset drift: {'YES' if result.dataset_drift else 'no'})")
        print(f"reference {reference.label()} ({result.reference_rows} rows); current {current.label()} "
              f"({result.current_rows} rows); {result.mode} mode, {result.seconds:.2f} s")
        for c in result.columns:
            flag = "DRIFT" if c.drifted else "ok"
            print(f"  {c.column:<16} {flag:<6} {c.test:<32} score {c.score:.4g} (threshold {c.threshold:g}) "
                  f"[{c.basis}]")
        for column, reason in result.skipped.items():
            print(f"  {column:<16} skipped: {reason}")
        if args.html:
            print(f"Evidently report: {out['html']}")
    return 1 if result.dataset_drift else 0


def _ref_lines(ref) -> str:
    return (f"{ref.camera_id}: {ref.window.label()} ({ref.origin})" + (f"\n    note: {ref.note}" if ref.note else ""))


def _ref_show(args) -> int:
    from secmlops_core.monitoring.reference import get_reference, list_references

    store = common.store()
    if args.camera:
        found = [r for r in [get_reference(store, args.camera)] if r]
    else:
        cameras = sorted({r.camera_id for r in list_references(store)})
        found = [get_reference(store, c) for c in cameras]
    if args.json:
        print(json.dumps([{**r.__dict__, "origin": r.origin} for r in found], default=str))
        return 0
    if not found:
        print("no drift reference yet" + (f" for camera {args.camera!r}" if args.camera else "") +
              ": the alert rules store each camera's first settled stretch of normal operation once it exists, "
              "or pin one with `secmlops drift reference pin`")
    for ref in found:
        print(_ref_lines(ref))
    return 0


def _ref_pin(args) -> int:
    from secmlops_core.monitoring.reference import pin_reference
    from secmlops_core.monitoring.windows import parse_window

    ref = pin_reference(common.store(), args.camera, parse_window(args.window, what="reference window"), args.note)
    print(f"pinned {_ref_lines(ref)}")
    return 0


def _ref_clear(args) -> int:
    from secmlops_core.monitoring.reference import clear_reference

    removed = clear_reference(common.store(), args.camera)
    print(f"cleared the pinned reference of {args.camera} ({removed.window.label()}); the settled one applies"
          if removed else f"{args.camera} has no pinned reference")
    return 0


def _monitor(args) -> int:
    from secmlops_core.errors import UserFacingError
    from secmlops_core.monitoring.evaluate import evaluate

    if args.every is not None and args.every < 1:
        raise UserFacingError("--every must be at least 1 second")
    store = common.store()
    while True:
        report = evaluate(store)
        if args.json:
            print(json.dumps({"started_at": report.started_at, "seconds": round(report.seconds, 3),
                              "outcomes": report.outcomes, "problems": report.problems}, default=str), flush=True)
        else:
            opened = ", ".join(report.opened) or "none"
            print(f"{report.started_at:%H:%M:%S} evaluated in {report.seconds:.2f} s; opened: {opened}", flush=True)
            for problem in report.problems:
                print(f"  problem: {problem}", file=sys.stderr)
        if args.every is None:
            return 0
        time.sleep(args.every)


def _list(args) -> int:
    from secmlops_core.monitoring.incidents import ACTIVE, list_incidents

    found = list_incidents(common.store(), statuses=None if args.all else ACTIVE)
    if args.json:
        print(json.dumps([i.__dict__ for i in found], default=str))
        return 0
    if not found:
        print("no incidents" if args.all else "no active incidents")
    for i in found:
        print(f"{i.incident_id}  {i.severity:<8} {i.status:<13} {i.opened_at:%Y-%m-%d %H:%M}  x{i.occurrences:<3} "
              f"{i.owner_role:<24} {i.title}")
    return 0


def _show(args) -> int:
    from secmlops_core.monitoring.incidents import get_incident, timeline
    from secmlops_core.monitoring.rules import load_alert_rules
    from secmlops_core.settings import get_settings

    store = common.store()
    i = get_incident(store, args.incident_id)
    print(f"{i.title}\n  id {i.incident_id}  rule {i.rule_id}  severity {i.severity}  status {i.status}  "
          f"owner {i.owner_role}  occurrences {i.occurrences}")
    if i.window_start:
        print(f"  telemetry window {i.window_start:%Y-%m-%d %H:%M:%S} .. {i.window_end:%H:%M:%S} UTC"
              + (f"  camera {i.camera_id}" if i.camera_id else ""))
    for link in i.threat_links:
        print(f"  threat {link.get('threat_id')} ({link.get('rule_id', '')} {link.get('title', '')}) "
              f"in pipeline {link.get('pipeline_id')}")
    print("timeline:")
    for e in timeline(store, i.incident_id):
        print(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<7} {e.actor:<14} {e.text}")
    rule = load_alert_rules(get_settings().home).rules.get(i.rule_id)
    runbooks = load_alert_rules(get_settings().home).runbooks
    if rule and rule.runbook in runbooks:
        print(f"runbook: {runbooks[rule.runbook].title}")
        for n, step in enumerate(runbooks[rule.runbook].steps, 1):
            print(f"  {n}. {step}")
    return 0


def _transition(args) -> int:
    from secmlops_core.monitoring.incidents import set_status

    incident = set_status(common.store(), args.incident_id, args.status, args.by, args.note)
    print(f"{incident.incident_id}: {incident.status}")
    return 0


def _note(args) -> int:
    from secmlops_core.monitoring.incidents import add_note

    add_note(common.store(), args.incident_id, args.text, args.by)
    print("note added")
    return 0
