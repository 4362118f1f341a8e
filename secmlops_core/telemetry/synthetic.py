"""Synthetic event generator for load tests and benchmarks only (never shown as real telemetry)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from secmlops_core.telemetry.schema import EVENT_SCHEMA


def synthetic_table(start: datetime, count: int, camera: str = "load-test", step_s: float = 0.5,
                    seed: int = 0, first_index: int = 0) -> pa.Table:
    """``count`` events of one camera every ``step_s`` seconds from ``start``, as an Arrow table."""
    rng = np.random.default_rng(seed)
    ts = np.datetime64(start, "us") + (np.arange(count) * step_s * 1e6).astype("timedelta64[us]")
    pedestrians = rng.integers(0, 6, count).astype(np.int32)
    conf = np.where(pedestrians > 0, rng.uniform(0.3, 0.9, count), np.nan)
    columns = {
        "ts": ts, "camera_id": np.full(count, camera), "runner_id": np.full(count, "synthetic"),
        "frame_index": np.arange(first_index, first_index + count), "source_kind": np.full(count, "synthetic"),
        "scenario": np.full(count, "normal"), "model_id": np.full(count, "synthetic"),
        "model_sha256": np.full(count, "0" * 64), "device": np.full(count, "cpu"),
        "latency_ms": rng.gamma(20.0, 6.5, count), "frame_ms": rng.gamma(20.0, 6.8, count),
        "width": np.full(count, 640, np.int32), "height": np.full(count, 480, np.int32),
        "detections": pedestrians, "pedestrians": pedestrians,
        "mean_confidence": conf, "min_confidence": conf * 0.9,
        "brightness": rng.normal(115, 10, count), "contrast": rng.normal(60, 5, count),
        "sharpness": rng.normal(2500, 300, count), "colourfulness": rng.normal(35, 4, count),
        "entropy": rng.normal(7.5, 0.1, count),
    }
    arrays = []
    for field in EVENT_SCHEMA:
        if field.name == "class_counts":
            offsets = np.arange(count + 1, dtype=np.int32)
            arrays.append(pa.MapArray.from_arrays(offsets, pa.array(np.full(count, "pedestrian (upright)")),
                                                  pa.array(pedestrians)))
        else:
            arrays.append(pa.array(columns[field.name], type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def synthetic_events(start: datetime, count: int, camera: str = "load-test", step_s: float = 0.5,
                     seed: int = 0) -> list[dict]:
    """The same events as :func:`synthetic_table`, as row dicts (for ``TelemetryWriter.add_many``)."""
    rows = synthetic_table(start, count, camera, step_s, seed).to_pylist()
    for row in rows:
        row["class_counts"] = dict(row["class_counts"])
    return rows
