"""Generated telemetry with *known* shifts, for drift tests and benchmarks only (never shown as real).

Rows come from :func:`secmlops_core.telemetry.synthetic.synthetic_table`; a shift moves a float
column by ``amount`` of its standard deviation (so Evidently's normed Wasserstein distance is
about ``amount``) or, for an integer column, sets it to 0 with probability ``amount``.
Files are written straight into the lake layout (compacted ``hour-HH`` files).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from secmlops_core.telemetry.schema import EVENTS
from secmlops_core.telemetry.synthetic import synthetic_table

CHUNK = 250_000


def _shifted(table: pa.Table, shifts: dict[str, float], rng: np.random.Generator) -> pa.Table:
    for column, amount in shifts.items():
        index = table.schema.get_field_index(column)
        field = table.schema.field(index)
        values = table.column(column).to_numpy(zero_copy_only=False)
        if pa.types.is_integer(field.type):
            values = np.where(rng.random(len(values)) < amount, 0, values).astype(values.dtype)
        else:
            std = float(np.nanstd(values)) or 1.0
            values = values + amount * std
        table = table.set_column(index, field, pa.array(values, type=field.type, from_pandas=True))
    return table


def write_window(telemetry_dir: Path, start: datetime, rows: int, *, camera: str = "generated",
                 shifts: dict[str, float] | None = None, seed: int = 0, hours: int = 1) -> tuple[datetime, datetime]:
    """Write ``rows`` events spread evenly over ``hours`` from ``start`` (an hour boundary); returns the window."""
    start = start.replace(minute=0, second=0, microsecond=0)
    per_hour = -(-rows // hours)
    rng = np.random.default_rng(seed + 10_000)
    written = 0
    for hour in range(hours):
        hour_start = start + timedelta(hours=hour)
        count = min(per_hour, rows - written)
        step = 3600.0 / count
        done = 0
        while done < count:
            n = min(CHUNK, count - done)
            table = synthetic_table(hour_start + timedelta(seconds=done * step), n, camera=camera, step_s=step,
                                    seed=seed * 1000 + hour * 100 + done // CHUNK, first_index=written + done)
            if shifts:
                table = _shifted(table, shifts, rng)
            folder = Path(telemetry_dir) / EVENTS / f"date={hour_start.date().isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"hour-{hour_start.hour:02d}-{uuid.uuid4().hex[:12]}.parquet",
                           compression="zstd")
            done += n
        written += count
    return start, start + timedelta(hours=hours)
