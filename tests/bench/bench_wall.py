"""Ops wall refresh cost: one shared collect per cycle, and a real server with 10 Chromium screens.

1. ``monitoring.wall_state.collect`` (what one refresh cycle computes once for every screen): with
   the alert evaluation (first screen of a cycle) and rate-limited (evaluation already done).
2. ``streamlit run app.py`` with 10 headless Chromium sessions on ``/ops_wall?embed=true``:
   server CPU seconds per refresh cycle and resident memory at the start and end of the run
   (memory growth over the run).

Data: generated telemetry for 3 cameras over the last 30 minutes (benchmark only), their feed
status files and a frame each.

Usage: python tests/bench/bench_wall.py [--seconds 60]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.common import best_and_median, report  # noqa: E402

SESSIONS = 10


def _seed(home: Path) -> None:
    import numpy as np

    from secmlops_core.detector.annotate import encode_jpeg
    from secmlops_core.feed import state
    from secmlops_core.settings import load_settings
    from tests.fixtures.synthetic_telemetry import synthetic_events
    from secmlops_core.telemetry.writer import TelemetryWriter, utc_now

    settings = load_settings({"SECMLOPS_HOME": str(home)})
    settings.ensure_dirs()
    now = utc_now()
    frame = encode_jpeg(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    for i in range(3):
        camera = f"bench-cam-{i}"
        writer = TelemetryWriter(settings.telemetry_dir, camera)
        writer.add_many(synthetic_events(now - timedelta(minutes=30), 3600, camera=camera, step_s=0.5, seed=i))
        writer.flush()
        state.write_status(settings, state.FeedStatus(camera_id=camera, state="up", source="sample",
                                                      source_kind="sample", pid=os.getpid(),
                                                      heartbeat_at=time.time() + 3600,
                                                      last_frame_at=time.time() + 3600, fps=2.0, target_fps=2.0))
        state.write_latest_frame(settings, camera, frame)


def _proc_cpu_rss(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    return cpu, rss


def main() -> int:
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        _seed(home)
        os.environ["SECMLOPS_HOME"] = str(home)
        from secmlops_core.monitoring.wall_state import collect
        from secmlops_core.settings import get_settings
        from secmlops_core.store import get_store

        settings = get_settings()
        store = get_store(settings.store_path)
        collect(store, settings, evaluate_every_s=0.001)  # warm-up: imports, migrations
        with_eval = best_and_median(lambda: collect(store, settings, evaluate_every_s=0.001), repeats=5)
        without = best_and_median(lambda: collect(store, settings, evaluate_every_s=3600), repeats=5)
        report("wall collect with alert evaluation (median)", with_eval[1])
        report("wall collect, evaluation rate-limited (median)", without[1])

        from playwright.sync_api import sync_playwright

        from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop_process

        process, url = start_streamlit(home)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                contexts = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(SESSIONS)]
                pages = [c.new_page() for c in contexts]
                for p in pages:
                    p.goto(f"{url}/ops_wall?embed=true")
                for p in pages:
                    p.get_by_text("Updated ").first.wait_for(timeout=90_000)
                pages[0].wait_for_timeout(3000)
                cpu0, rss0 = _proc_cpu_rss(process.pid)
                start = time.monotonic()
                pages[0].wait_for_timeout(seconds * 1000)
                cpu1, rss1 = _proc_cpu_rss(process.pid)
                elapsed = time.monotonic() - start
                cycles = elapsed / settings.wall_refresh_seconds
                report(f"server CPU per refresh cycle, {SESSIONS} screens ({cycles:.0f} cycles)",
                       (cpu1 - cpu0) / cycles)
                report(f"server CPU share of one core, {SESSIONS} screens", (cpu1 - cpu0) / elapsed * 100, unit="%")
                report("server resident memory at start", rss0, unit="MiB")
                report(f"server resident memory after {elapsed:.0f} s", rss1, unit="MiB")
                for c in contexts:
                    c.close()
                browser.close()
        finally:
            stop_process(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
