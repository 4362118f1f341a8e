"""Telemetry schemas (Arrow) and the on-disk layout.

Layout under ``settings.telemetry_dir`` (Hive-style partitions, plain Parquet)::

    events/date=YYYY-MM-DD/seg-HH-<camera>-<runner>-<seq>.parquet   raw segments (runners, ~1 s each)
    events/date=YYYY-MM-DD/hour-HH-<id>.parquet                     compacted hour
    events/date=YYYY-MM-DD/day-<id>.parquet                         compacted day
    rollups/date=YYYY-MM-DD/hour-HH-<id>.parquet | day-<id>.parquet per-minute rollups
    .journal/<id>.json                                              in-flight compaction swaps
"""

from __future__ import annotations

import re

import pyarrow as pa

EVENTS = "events"
ROLLUPS = "rollups"
JOURNAL = ".journal"
SWAP_LOCK = ".swap.lock"
COMPACT_LOCK = ".compact.lock"

SEGMENT_RE = re.compile(r"^seg-(\d{2})-.+\.parquet$")
HOUR_RE = re.compile(r"^hour-(\d{2})-[0-9a-f]+\.parquet$")
DAY_RE = re.compile(r"^day-[0-9a-f]+\.parquet$")
DATE_DIR_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")

# Latency histogram in rollups: bucket k holds latencies in [2^(k/4), 2^((k+1)/4)) ms (±9 %).
LATENCY_BUCKETS = 64
HIST_COLUMNS = [f"lat_h{k:02d}" for k in range(LATENCY_BUCKETS)]

EVENT_SCHEMA = pa.schema([
    ("ts", pa.timestamp("us")),  # frame capture time, UTC
    ("camera_id", pa.string()),
    ("runner_id", pa.string()),
    ("frame_index", pa.int64()),
    ("source_kind", pa.string()),
    ("scenario", pa.string()),
    ("model_id", pa.string()),
    ("model_sha256", pa.string()),
    ("device", pa.string()),
    ("latency_ms", pa.float64()),  # detector predict time
    ("frame_ms", pa.float64()),  # whole per-frame cost in the runner (transform, predict, stats, write)
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("detections", pa.int32()),
    ("pedestrians", pa.int32()),
    ("class_counts", pa.map_(pa.string(), pa.int32())),
    ("mean_confidence", pa.float64()),  # null when nothing was detected
    ("min_confidence", pa.float64()),
    ("brightness", pa.float64()),
    ("contrast", pa.float64()),
    ("sharpness", pa.float64()),
    ("colourfulness", pa.float64()),
    ("entropy", pa.float64()),
])

EVENT_COLUMNS = EVENT_SCHEMA.names
IMAGE_STAT_COLUMNS = ["brightness", "contrast", "sharpness", "colourfulness", "entropy"]

LATENCY_BUCKET_SQL = "least(63, greatest(0, floor(4 * log2(greatest(latency_ms, 1)))))::INTEGER"

# One row per (minute, camera); sums so that any set of rows can be merged exactly.
ROLLUP_SQL_SELECT = (
    "date_trunc('minute', ts) AS minute, camera_id, count(*)::BIGINT AS frames, min(ts) AS first_ts, "
    "max(ts) AS last_ts, sum(latency_ms) AS latency_sum, max(latency_ms) AS latency_max, "
    "quantile_cont(latency_ms, 0.5) AS latency_p50, quantile_cont(latency_ms, 0.95) AS latency_p95, "
    "sum(pedestrians)::BIGINT AS pedestrians_sum, sum(detections)::BIGINT AS detections_sum, "
    "sum(mean_confidence) AS confidence_sum, count(mean_confidence)::BIGINT AS confidence_frames, "
    "min(min_confidence) AS confidence_min, "
    + ", ".join(f"sum({c}) AS {c}_sum" for c in IMAGE_STAT_COLUMNS) + ", "
    + ", ".join(f"count(*) FILTER (WHERE {LATENCY_BUCKET_SQL} = {k})::INTEGER AS {HIST_COLUMNS[k]}"
                for k in range(LATENCY_BUCKETS))
)
