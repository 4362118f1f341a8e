"""Load: 20 browser sessions across every page plus 4 sample camera feeds for 10 minutes.

Prints page loads, errors, p95 page settle time and the app server's memory growth, with
the stated bound. Shorter runs: `bench_load.py --sessions 5 --feeds 1 --minutes 2`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load_session import run_load  # noqa: E402

MEMORY_GROWTH_BOUND_MB = 300


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--feeds", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_load(Path(tmp) / "home", args.sessions, args.feeds, args.minutes * 60)
    print(f"Load: {result.sessions} browser sessions + {result.feeds} feeds for {args.minutes:g} min")
    print(f"{'page loads':<40} {result.page_loads}")
    print(f"{'errors':<40} {len(result.errors)}")
    for error in result.errors[:10]:
        print(f"  {error}")
    print(f"{'p95 page settle time':<40} {result.p95_load_s:.2f} s")
    if result.rss_mb:
        print(f"{'server RSS start -> end':<40} {result.rss_mb[0][1]:.0f} -> {result.rss_mb[-1][1]:.0f} MB")
    growth = result.memory_growth_mb
    verdict = "met" if growth <= MEMORY_GROWTH_BOUND_MB else "NOT met"
    print(f"{'server memory growth after warm-up':<40} {growth:.0f} MB (bound {MEMORY_GROWTH_BOUND_MB} MB: {verdict})")


if __name__ == "__main__":
    main()
