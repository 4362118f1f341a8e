"""Drift between a reference and a current telemetry window, per column, with Evidently.

Each column goes through Evidently's own stat tests (the registry ``DataDriftPreset`` uses,
same default choice of test); Evidently's Report with its HTML is built only on request,
since rendering its figures costs about a second. Small windows (both <= ``RAW_MAX_ROWS``
rows) are tested as they are. Bigger ones are reduced in DuckDB first (:mod:`.binning`): per
column a fine histogram, turned into a ``SUMMARY_POINTS``-point quantile summary, tested
with the test chosen from the *full* data by Evidently's rule (so the summary never changes
which test runs). A score closer to its threshold than the summary's error bound (see
:func:`summary_margin`) is recomputed with the same test on the full columns, so verdicts
equal those of Evidently on the raw data.

Which test each column gets, and its threshold, is data: the ``columns`` of the drift rule in
``catalog/alert_rules.yaml`` (:func:`configured_tests`). With configured tests every window
size uses the same distance test, so the verdict does not flip from a sample-size-driven
p-value test (K-S rejects two windows of the same autocorrelated video) to a distance at
1000 rows. Without them (``tests=None``) Evidently's own default choice applies.
"""

from __future__ import annotations

import operator
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from secmlops_core.errors import UserFacingError
from secmlops_core.monitoring import binning
from secmlops_core.monitoring.windows import Window
from secmlops_core.telemetry import query
from secmlops_core.telemetry.writer import utc_now

# Columns compared, with what they mean (image statistics, detections, confidence, latency).
FEATURES: dict[str, str] = {
    "brightness": "mean grey level of the frame",
    "contrast": "standard deviation of the grey levels",
    "sharpness": "variance of the Laplacian (focus, blur, noise)",
    "colourfulness": "Hasler-Suesstrunk colourfulness",
    "entropy": "grey-level entropy (bits)",
    "pedestrians": "pedestrians detected per frame",
    "detections": "objects detected per frame",
    "mean_confidence": "mean confidence of the frame's detections",
    "latency_ms": "detector latency (ms)",
}
INTEGER_COLUMNS = frozenset({"pedestrians", "detections"})
RAW_MAX_ROWS = 20_000
SUMMARY_POINTS = 10_000
MIN_ROWS = 30
MIN_BORDER = 0.02  # a summary score closer than this share of its threshold (or than its error bound) ...
JS_BORDER = 0.15  # ... or, for Jensen-Shannon, than this share, is recomputed on the full columns
SMALL_REFERENCE = 1000  # Evidently picks p-value tests (size-dependent) up to this many reference values
DRIFT_SHARE = 0.5

DISTANCE_TESTS = frozenset({"wasserstein", "jensenshannon"})  # tests whose summary error bound is known

_DRIFTED = {"K-S p_value": operator.le, "chi-square p_value": operator.lt, "Z-test p_value": operator.lt}


def is_drifted(test_label: str, score: float, threshold: float) -> bool:
    """Evidently's verdict rule: p-value tests drift below the threshold, distances at or above it."""
    return bool(_DRIFTED.get(test_label, operator.ge)(score, threshold))


@dataclass(frozen=True)
class ColumnTest:
    """The stat test (an Evidently method name) and threshold one column is judged by."""

    method: str
    threshold: float


def configured_tests(home: Path | None = None) -> tuple[dict[str, ColumnTest], float]:
    """The per-column tests and the dataset-drift share of the (first enabled) drift rule of the
    operator's rules in ``home`` (default: the configured data directory), else the shipped ones."""
    from secmlops_core.monitoring.rules import load_alert_rules
    from secmlops_core.settings import get_settings

    for rule in load_alert_rules(home or get_settings().home).rules.values():
        if rule.kind == "drift_share" and rule.enabled:
            return column_tests(rule.params), float(rule.params["share"])
    return {}, DRIFT_SHARE


def column_tests(params: dict) -> dict[str, ColumnTest]:
    """``{column: ColumnTest}`` from a drift rule's ``columns`` params."""
    return {str(c): ColumnTest(str(t["test"]), float(t["threshold"])) for c, t in (params.get("columns") or {}).items()}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test result."""

    column: str
    test: str  # Evidently's display name, e.g. "Wasserstein distance (normed)"
    threshold: float
    score: float
    drifted: bool
    basis: str  # "full data", "quantile summary", "full data (near threshold)", "full data (small reference)"
    reference_count: int
    current_count: int


@dataclass
class DriftResult:
    """A drift comparison; ``reference_data``/``current_data`` are what Evidently saw (not stored)."""

    reference: Window
    current: Window
    camera: str | None
    reference_rows: int
    current_rows: int
    mode: str  # "raw" or "binned"
    columns: list[ColumnDrift]
    skipped: dict[str, str]
    drift_share_threshold: float
    seconds: float
    computed_at: datetime
    reference_data: pd.DataFrame | None = field(default=None, repr=False)
    current_data: pd.DataFrame | None = field(default=None, repr=False)
    methods: dict[str, str] = field(default_factory=dict, repr=False)  # tests fixed from the full data (binned)
    configured: bool = False  # tests and thresholds came from the drift rule, not Evidently's defaults
    _snapshot: object | None = field(default=None, repr=False)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.drift_share >= self.drift_share_threshold

    def verdicts(self) -> dict[str, bool]:
        return {c.column: c.drifted for c in self.columns}

    def evidently_report(self):
        """Evidently's own Report (``DataDriftPreset``) over the data it tested, built on first use (~1 s)."""
        if self.reference_data is None or self.current_data is None:
            raise UserFacingError("this drift result has no data attached (it was loaded from a snapshot); "
                                  "recompute it to get Evidently's report")
        if self._snapshot is None:
            tested = [c.column for c in self.columns]
            thresholds = {c.column: c.threshold for c in self.columns} if self.configured else None
            self._snapshot, _ = run_evidently(self.reference_data, self.current_data, tested, self.methods or None,
                                              self.drift_share_threshold, thresholds)
        return self._snapshot

    def html(self) -> str:
        """Evidently's own HTML report of this comparison (on the quantile summaries in binned mode)."""
        return self.evidently_report().get_html_str(as_iframe=False)

    def as_dict(self) -> dict:
        """JSON-ready summary (what the CLI prints and snapshots store)."""
        return {
            "camera": self.camera, "reference": self.reference.as_text(), "current": self.current.as_text(),
            "reference_rows": self.reference_rows, "current_rows": self.current_rows, "mode": self.mode,
            "drift_share": round(self.drift_share, 4), "drift_share_threshold": self.drift_share_threshold,
            "dataset_drift": self.dataset_drift, "drifted_columns": self.drifted_columns,
            "columns": [c.__dict__ for c in self.columns], "skipped": self.skipped,
            "seconds": round(self.seconds, 3), "computed_at": self.computed_at.isoformat(timespec="seconds"),
        }


def _evidently():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    return DataDefinition, Dataset, Report, DataDriftPreset


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str],
                  methods: dict[str, str] | None = None, drift_share: float = DRIFT_SHARE,
                  thresholds: dict[str, float] | None = None):
    """Evidently's ``DataDriftPreset`` over ``columns`` (all numeric); returns (snapshot, {column: (test, threshold, score)})."""
    DataDefinition, Dataset, Report, DataDriftPreset = _evidently()
    definition = DataDefinition(numerical_columns=list(columns))
    preset = DataDriftPreset(columns=list(columns), per_column_method=methods or None, drift_share=drift_share,
                             per_column_threshold=thresholds or None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([preset]).run(Dataset.from_pandas(current[columns], data_definition=definition),
                                        Dataset.from_pandas(reference[columns], data_definition=definition))
    found = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            found[config["column"]] = (_display_name(config["method"]), float(config["threshold"]),
                                       float(metric["value"]))
    return snapshot, found


def _display_name(method: str) -> str:
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    try:
        return get_registered_stattest(method, ColumnType.Numerical).display_name
    except ValueError:
        return method  # already a display name


def stattest(reference: np.ndarray, current: np.ndarray, method: str | None = None,
             threshold: float | None = None) -> tuple[str, float, float, bool]:
    """One column through Evidently's own stat test (its default choice and threshold when None)."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    ref, cur = pd.Series(reference, dtype=float), pd.Series(current, dtype=float)
    test = get_stattest(ref, cur, ColumnType.Numerical, method)
    result = test(ref, cur, ColumnType.Numerical, threshold)
    return test.display_name, float(result.actual_threshold), float(result.drift_score), bool(result.drifted)


def _default_method(reference_count: int, n_values: int) -> str:
    """Evidently's default test for a numeric column with this many reference values and distinct values."""
    if reference_count <= SMALL_REFERENCE:
        return "chisquare" if 2 < n_values <= 5 else ("z" if n_values <= 2 else "ks")
    return "jensenshannon" if n_values <= 5 else "wasserstein"


def _check_rows(name: str, rows: int, window: Window, camera: str | None, min_rows: int) -> None:
    if rows >= min_rows:
        return
    where = f" for camera {camera!r}" if camera else ""
    if rows == 0:
        raise UserFacingError(f"the {name} window {window.label()} has no telemetry{where}")
    raise UserFacingError(f"the {name} window {window.label()} has only {rows} frame(s){where}; drift tests need "
                          f"at least {min_rows}: widen the window")


def _check_camera(camera: str, reference: Window, current: Window, telemetry_dir: Path | None) -> None:
    start, end = min(reference.start, current.start), max(reference.end, current.end)
    known = query.camera_activity(start, end, telemetry_dir=telemetry_dir)["camera_id"].tolist()
    if camera not in known:
        listed = ", ".join(known) if known else "none"
        raise UserFacingError(f"unknown camera {camera!r}: it has no telemetry between {start:%Y-%m-%d %H:%M} and "
                              f"{end:%Y-%m-%d %H:%M} UTC (cameras with telemetry then: {listed})")


def compute_drift(reference: Window, current: Window, camera: str | None = None, *,
                  columns: list[str] | None = None, mode: str = "auto", points: int = SUMMARY_POINTS,
                  min_rows: int = MIN_ROWS, drift_share: float = DRIFT_SHARE,
                  tests: dict[str, ColumnTest] | None = None, telemetry_dir: Path | None = None) -> DriftResult:
    """Compare ``current`` with ``reference`` (optionally one camera). ``mode``: auto, raw or binned.

    ``tests``: per-column test and threshold (see :func:`configured_tests`); its columns are the
    ones compared unless ``columns`` names others. None: Evidently's default test per column.
    """
    started = time.perf_counter()
    tests = dict(tests or {})
    columns = list(columns or tests or FEATURES)
    untested = [c for c in columns if tests and c not in tests]
    if untested:
        raise UserFacingError(f"no drift test is configured for column(s) {', '.join(untested)}")
    unknown = [c for c in columns if c not in FEATURES]
    if unknown:
        raise UserFacingError(f"unknown drift column(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    if mode not in {"auto", "raw", "binned"}:
        raise UserFacingError("mode must be auto, raw or binned")
    camera = camera or None
    start, end = min(reference.start, current.start), max(reference.end, current.end)
    with query.connect(start, end, telemetry_dir) as con:
        ref_rows = binning.count_rows(con, reference, camera)
        cur_rows = binning.count_rows(con, current, camera)
        if camera and (ref_rows == 0 or cur_rows == 0):
            _check_camera(camera, reference, current, telemetry_dir)
        _check_rows("reference", ref_rows, reference, camera, min_rows)
        _check_rows("current", cur_rows, current, camera, min_rows)
        ref_t = binning.materialize(con, "ref_window", columns, reference, camera)
        cur_t = binning.materialize(con, "cur_window", columns, current, camera)
        ref_prof, cur_prof = binning.profile(con, columns, ref_t), binning.profile(con, columns, cur_t)
        skipped = {}
        for c in columns:
            if ref_prof[c].count == 0 or cur_prof[c].count == 0:
                which = "reference" if ref_prof[c].count == 0 else "current"
                skipped[c] = f"no values in the {which} window"
        tested = [c for c in columns if c not in skipped]
        if not tested:
            raise UserFacingError("no column has values in both windows; nothing to compare")
        if mode == "raw" or (mode == "auto" and max(ref_rows, cur_rows) <= RAW_MAX_ROWS):
            result = _raw(con, tested, ref_t, cur_t, ref_prof, cur_prof, tests)
            used = "raw"
        else:
            result = _binned(con, tested, ref_t, cur_t, ref_prof, cur_prof, points, tests)
            used = "binned"
    cols, ref_df, cur_df, methods = result
    return DriftResult(reference, current, camera, ref_rows, cur_rows, used, cols, skipped, drift_share,
                       time.perf_counter() - started, utc_now(), ref_df, cur_df, methods, bool(tests))


def _raw(con, tested, ref_t, cur_t, ref_prof, cur_prof, tests):
    select = ", ".join(f"{c}::DOUBLE AS {c}" for c in tested)
    frames = [con.execute(f"SELECT {select} FROM {t}").df() for t in (ref_t, cur_t)]
    cols = []
    for c in tested:
        method, limit = (tests[c].method, tests[c].threshold) if c in tests else (None, None)
        test, threshold, score, drifted = stattest(frames[0][c].dropna().to_numpy(), frames[1][c].dropna().to_numpy(),
                                                   method, limit)
        cols.append(ColumnDrift(c, test, threshold, score, drifted, "full data", ref_prof[c].count, cur_prof[c].count))
    return cols, frames[0], frames[1], {c: tests[c].method for c in tested if c in tests}


def _binned(con, tested, ref_t, cur_t, ref_prof, cur_prof, points, tests):
    specs = {}
    for c in tested:
        lo = min(ref_prof[c].lo, cur_prof[c].lo)
        hi = max(ref_prof[c].hi, cur_prof[c].hi)
        specs[c] = binning.bin_spec(lo, hi, c in INTEGER_COLUMNS)
    ref_hist = binning.histograms(con, specs, ref_t)
    cur_hist = binning.histograms(con, specs, cur_t)
    methods, exact = {}, []
    for c in tested:
        if c in tests:
            methods[c] = tests[c].method
            continue
        if ref_prof[c].count <= SMALL_REFERENCE:
            exact.append(c)  # p-value tests depend on sample sizes: never summarised
            continue
        n_values = int(np.count_nonzero(ref_hist[c] + cur_hist[c]))
        if n_values <= 5 and not specs[c].discrete:
            n_values = _distinct(con, c, ref_t, cur_t)
        methods[c] = _default_method(ref_prof[c].count, n_values)
    ref_df = pd.DataFrame({c: binning.quantile_summary(ref_hist[c], specs[c], points) for c in tested})
    cur_df = pd.DataFrame({c: binning.quantile_summary(cur_hist[c], specs[c], points) for c in tested})
    cols = []
    for c in tested:
        limit = tests[c].threshold if c in tests else None
        if c not in exact:
            test, threshold, score, drifted = stattest(ref_df[c].to_numpy(), cur_df[c].to_numpy(), methods[c], limit)
            margin = summary_margin(methods[c], threshold, specs[c], ref_df[c].to_numpy(), points)
            if abs(score - threshold) > margin:
                cols.append(ColumnDrift(c, test, threshold, score, drifted, "quantile summary",
                                        ref_prof[c].count, cur_prof[c].count))
                continue
            basis, method = "full data (near threshold)", methods[c]
        else:
            basis, method = "full data (small reference)", None
        test, threshold, score, drifted = stattest(binning.full_column(con, c, ref_t),
                                                   binning.full_column(con, c, cur_t), method, limit)
        cols.append(ColumnDrift(c, test, threshold, score, drifted, basis, ref_prof[c].count, cur_prof[c].count))
    return cols, ref_df, cur_df, methods


def summary_margin(method: str, threshold: float, spec: binning.BinSpec, reference_summary: np.ndarray,
                   points: int) -> float:
    """How far a summary's score may be from the full data's.

    Wasserstein (normed): each binned value is within one bin width of its true value (moving
    every point of both windows changes the distance by at most 2 widths) and a k-point quantile
    summary is within range/k of its histogram (2 range/k for both); divided by the reference's
    standard deviation, with 10 % slack for the normaliser itself. Jensen-Shannon: a fixed share.
    """
    if method != "wasserstein":
        return JS_BORDER * threshold
    spread = spec.width * spec.bins if not spec.discrete else spec.width * (spec.bins - 1)
    std = float(np.std(reference_summary))
    if std <= 0:
        return float("inf")
    bound = 1.1 * (2 * (0.0 if spec.discrete else spec.width) + 2 * spread / points) / std
    return max(MIN_BORDER * threshold, bound)


def _distinct(con, column, ref_t, cur_t) -> int:
    return int(con.execute(f"SELECT count(DISTINCT v) FROM (SELECT {column} AS v FROM {ref_t} UNION ALL "
                           f"SELECT {column} FROM {cur_t})").fetchone()[0])
