"""Time windows for drift and alerts: parsing ``START..END`` and checking them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from secmlops_core.errors import UserFacingError
from secmlops_core.telemetry.writer import utc_now

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_SPAN = timedelta(days=400)


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` in naive UTC."""

    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def label(self) -> str:
        """Readable form, e.g. ``2026-01-01 10:00:00 .. 10:30:00 UTC``."""
        fmt_end = "%H:%M:%S" if self.start.date() == self.end.date() else "%Y-%m-%d %H:%M:%S"
        return f"{self.start:%Y-%m-%d %H:%M:%S} .. {self.end.strftime(fmt_end)} UTC"

    def as_text(self) -> str:
        """ISO form accepted by :func:`parse_window`."""
        return f"{self.start.isoformat(timespec='seconds')}..{self.end.isoformat(timespec='seconds')}"


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def parse_instant(text: str, now: datetime | None = None, what: str = "time") -> datetime:
    """``now``, ``-15m`` / ``-2h`` / ``-1d`` / ``-30s`` (before now), or an ISO date/time (UTC unless an offset is given)."""
    now = _naive_utc(now or utc_now())
    raw = (text or "").strip()
    if raw.lower() == "now":
        return now
    match = _RELATIVE.match(raw)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        return _naive_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        raise UserFacingError(f"{what} {raw!r} is not a time: use an ISO date/time (2026-01-31T14:00), "
                              "'now', or a relative time such as -30m, -2h, -1d") from None


def make_window(start: datetime, end: datetime, what: str = "window") -> Window:
    """A checked window: end after start, at most 400 days long."""
    start, end = _naive_utc(start), _naive_utc(end)
    if end <= start:
        raise UserFacingError(f"the {what} is empty or inverted: it ends ({end:%Y-%m-%d %H:%M:%S}) "
                              f"at or before it starts ({start:%Y-%m-%d %H:%M:%S})")
    if end - start > MAX_SPAN:
        raise UserFacingError(f"the {what} spans {(end - start).days} days; the limit is {MAX_SPAN.days}")
    return Window(start, end)


def parse_window(text: str, now: datetime | None = None, what: str = "window") -> Window:
    """Parse ``START..END`` (each part as in :func:`parse_instant`)."""
    raw = (text or "").strip()
    if raw.count("..") != 1:
        raise UserFacingError(f"the {what} {raw!r} must look like START..END, e.g. -2h..-1h or "
                              "2026-01-31T10:00..2026-01-31T11:00")
    left, right = raw.split("..")
    now = now or utc_now()
    return make_window(parse_instant(left, now, f"{what} start"), parse_instant(right, now, f"{what} end"), what)
