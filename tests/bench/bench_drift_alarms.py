"""Drift alarms on the sample street video: false alarms per hour and time to detect each scenario.

The real detector (default weights) and the runner's real per-frame statistics run on the real
frames of ``data/video/vtest.avi`` at the feed's pace (``--feed-fps``: 1, each of `make run`'s two
sample cameras, every 10th video frame; or 2, a single camera, every 5th; one loop is 80 or 159
feed frames). The loop repeats exactly, so the detector's output is cached per
(scenario, frame) and reused each time the loop comes round (see ``drift_frames``; ~950
detector calls in all). Telemetry rows carry simulated timestamps and go into a temporary
lake through the runner's ``TelemetryWriter``; the shipped alert rules (``evaluate``) then run
every 30 s of a simulated clock, exactly as the ops wall runs them:

1. ``normal`` for ``--normal-minutes`` (default 75: the reference settles after 11 minutes, so
   64 minutes of consecutive windows are judged against it);
2. then each of night, fog, rain, occlusion, tamper for ``--scenario-minutes`` (4), each followed
   by ``--recover-minutes`` (8) of normal.

Printed: false alarms per hour during the normal phase (evaluations with a dataset-drift verdict
once the reference has settled, and incidents opened by EVERY rule over the whole phase; the
latency SLO rule judges this host's detector latency, printed alongside), the largest
per-column distance relative to its threshold in that phase, then per scenario the time from
the switch to the first new drift incident, the drifted columns, other rules' incidents, and
when the drift was marked ended after switching back. Expectations written before the first
run: ``tests/bench/drift_expectations.md``.

Usage: python tests/bench/bench_drift_alarms.py [--feed-fps 1|2] [--normal-minutes 75] [--cache PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.drift_frames import FEED_FPS, VIDEO, detect_loop  # noqa: E402

SCENARIOS = ["night", "fog", "rain", "occlusion", "tamper"]
CAMERA = "street-1"
EVALUATE_EVERY_S = 30


def _timeline(normal_min: float, scenario_min: float, recover_min: float) -> list[tuple[str, float, float]]:
    """(scenario, start minute, end minute) phases of the simulated run."""
    phases, t = [("normal", 0.0, normal_min)], normal_min
    for scenario in SCENARIOS:
        phases += [(scenario, t, t + scenario_min), ("normal", t + scenario_min, t + scenario_min + recover_min)]
        t += scenario_min + recover_min
    return phases


def _frames_until(phases, rows, t0: datetime, start_index: int, until: datetime,
                  feed_fps: float) -> tuple[list[dict], int]:
    """Telemetry events for feed frames ``start_index`` .. the last one before ``until``."""
    events, index = [], start_index
    step = 1.0 / feed_fps
    while True:
        ts = t0 + timedelta(seconds=index * step)
        if ts >= until:
            return events, index
        minute = index * step / 60
        scenario = next(s for s, a, b in phases if a <= minute < b)
        loop = rows[scenario]
        event = dict(loop[index % len(loop)])
        event.update(ts=ts, camera_id=CAMERA, runner_id="bench", frame_index=index, source_kind="sample",
                     scenario=scenario, frame_ms=event["latency_ms"])
        events.append(event)
        index += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normal-minutes", type=float, default=75)
    parser.add_argument("--scenario-minutes", type=float, default=4)
    parser.add_argument("--recover-minutes", type=float, default=8)
    parser.add_argument("--feed-fps", type=int, choices=(1, 2), default=1,
                        help="detector frames per second of the camera (1: each of make run's two cameras)")
    parser.add_argument("--cache", type=Path, help="keep the detector's output for one loop here between runs")
    args = parser.parse_args()
    if not VIDEO.is_file():
        print(f"skipped: {VIDEO} is not there (`make sample-video` fetches it)")
        return 0
    home = Path(tempfile.mkdtemp(prefix="bench-drift-alarms-"))
    os.environ["SECMLOPS_HOME"] = str(home)

    from secmlops_core.monitoring import incidents, snapshots
    from secmlops_core.monitoring.evaluate import evaluate
    from secmlops_core.monitoring.events import recent_events
    from secmlops_core.monitoring.reference import get_reference
    from secmlops_core.monitoring.rules import load_alert_rules
    from secmlops_core.settings import get_settings
    from secmlops_core.store import get_store
    from secmlops_core.telemetry.writer import TelemetryWriter, utc_now

    started = time.perf_counter()
    rows = detect_loop(["normal", *SCENARIOS], args.cache, progress=lambda m: print(f"  {m}", flush=True))
    detect_s = time.perf_counter() - started
    every = int(FEED_FPS / args.feed_fps)  # the detected loop is at FEED_FPS; a slower feed sees every n-th of it
    rows = {scenario: loop[::every] for scenario, loop in rows.items()}
    settings = get_settings()
    store = get_store(settings.store_path)
    rule = load_alert_rules(settings.home).rules["drift-share"]
    phases = _timeline(args.normal_minutes, args.scenario_minutes, args.recover_minutes)
    t0 = (utc_now() - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
    end = t0 + timedelta(minutes=phases[-1][2])
    writer = TelemetryWriter(settings.telemetry_dir, CAMERA, runner_id="bench")
    index, now = 0, t0
    log: list[tuple[datetime, str, list]] = []  # (evaluated at, phase, outcomes)
    eval_s = []
    while now < end:
        now += timedelta(seconds=EVALUATE_EVERY_S)
        events, index = _frames_until(phases, rows, t0, index, now, args.feed_fps)
        writer.add_many(events)
        writer.flush()
        minute = (now - t0).total_seconds() / 60
        phase = next((s for s, a, b in phases if a < minute <= b), "normal")
        tick = time.perf_counter()
        report = evaluate(store, settings, now=now)
        eval_s.append(time.perf_counter() - tick)
        if report.problems:
            print(f"  problems at {minute:.1f} min: {report.problems}")
        log.append((now, phase, report.outcomes))

    ref = get_reference(store, CAMERA)
    normal_end = t0 + timedelta(minutes=args.normal_minutes)
    judged = [(at, out) for at, phase, out in log if at <= normal_end and at > ref.reference_end]
    hours = (normal_end - ref.reference_end).total_seconds() / 3600
    verdicts = sum(1 for _, out in judged if any(r == rule.id and o != "ended" for r, _, o, _ in out))
    whole = [out for at, phase, out in log if at <= normal_end]  # other rules need no reference: from the start
    opened = sorted({(r, i) for out in whole for r, _, o, i in out if o == "opened"})
    by_rule: dict[str, int] = {}
    for r, _ in opened:
        by_rule[r] = by_rule.get(r, 0) + 1
    latencies = sorted(row["latency_ms"] for row in rows["normal"])
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\nSample street video ({VIDEO.name}), camera {CAMERA}, feed {args.feed_fps:g} fps, rules every "
          f"{EVALUATE_EVERY_S} s of simulated time; reference {ref.window.label()} ({ref.kind})")
    print(f"Normal scenario judged against the reference: {len(judged)} consecutive evaluations over "
          f"{hours * 60:.0f} min")
    print(f"  {'dataset-drift verdicts per hour':<44} {verdicts / hours:6.2f}   (goal 0)")
    normal_hours = args.normal_minutes / 60
    print(f"  {'incidents opened per hour (every rule)':<44} {len(opened) / normal_hours:6.2f}   (goal 0; over all "
          f"{args.normal_minutes:g} min)" + (f"  by rule: {by_rule}" if opened else ""))
    slo = load_alert_rules(settings.home).rules["latency-slo"].params["p95_ms"]
    print(f"  detector latency p95 on this host (normal loop, cached): {p95:.0f} ms; latency-slo fires above "
          f"{slo} ms (a host-load alarm, not the scene)")
    worst: dict[str, float] = {}
    for snap in snapshots.list_snapshots(store, camera=CAMERA, since=ref.reference_end, limit=10_000):
        if snap.current_end <= normal_end:
            for column in snap.result["columns"]:
                ratio = column["score"] / column["threshold"]
                worst[column["column"]] = max(worst.get(column["column"], 0.0), ratio)
    print("  largest score / threshold per column (snapshots every 5 min): "
          + ", ".join(f"{c} {v:.2f}" for c, v in sorted(worst.items(), key=lambda kv: -kv[1])))
    print(f"\n{'scenario':<10} {'time to drift incident':>22}  {'new incident':>12}  {'drift ended after':>17}  "
          f"drifted columns / other rules")
    seen: set[str] = set()
    for scenario, a, b in phases[1:]:
        if scenario == "normal":
            continue
        switch, back = t0 + timedelta(minutes=a), t0 + timedelta(minutes=b)
        after = [(at, out) for at, _, out in log if at > switch]
        first = next(((at, i) for at, out in after for r, _, o, i in out if r == rule.id and o == "opened"), None)
        ended = next((at for at, out in after if at > back for r, _, o, _ in out if r == rule.id and o == "ended"),
                     None)
        others = sorted({r for at, out in after if at <= back + timedelta(minutes=args.recover_minutes)
                         for r, _, o, _ in out if o == "opened" and r != rule.id})
        if first is None:
            print(f"{scenario:<10} {'not detected':>22}")
            continue
        incident = incidents.get_incident(store, first[1])
        new = first[1] not in seen
        seen.add(first[1])
        ttd = (first[0] - switch).total_seconds()
        end_text = f"{(ended - back).total_seconds() / 60:.1f} min" if ended else "not ended"
        print(f"{scenario:<10} {ttd:>20.0f} s  {'yes' if new else 'NO':>12}  {end_text:>17}  "
              f"{', '.join(incident.details.get('drifted_columns', []))}"
              + (f" / {', '.join(others)}" if others else ""))
    kinds: dict[str, int] = {}
    for event in recent_events(store, settings, since=t0, camera_id=CAMERA):
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    print(f"\nTimeline events: {kinds}")
    print(f"Detector: {detect_s:.0f} s for the cached loop; rule evaluation median "
          f"{sorted(eval_s)[len(eval_s) // 2]:.2f} s over {len(eval_s)} evaluations; total "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
