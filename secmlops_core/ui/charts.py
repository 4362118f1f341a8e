"""Per-minute charts of the wall and the Live page: 24-hour UTC axes, colour-blind-safe series.

Each camera keeps one colour of the Okabe-Ito palette and, as a second cue, one dash and one
marker, so series stay apart without colour too. Only whole minutes are drawn; the minute in
progress is named in the chart ("partial minute ... not drawn").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from secmlops_core.monitoring.minutes import MinuteSeries, floor_minute

# Okabe & Ito (2008), without black (the background is dark).
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#D55E00", "#CC79A7", "#0072B2")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "5px,3px,1px,3px")
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross")
TIME_FORMAT = "%H:%M"  # 24-hour clock
AXIS_ZONE = "UTC"  # telemetry time base


def series_style(index: int) -> dict:
    """Colour, dash and marker of the ``index``-th series."""
    return {"color": OKABE_ITO[index % len(OKABE_ITO)], "dash": DASHES[index % len(DASHES)],
            "symbol": MARKERS[index % len(MARKERS)]}


def tick_minutes(span: timedelta, most: int = 8) -> int:
    """A round tick step in minutes that puts at most ``most`` labels on a ``span`` long axis."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
        if span / timedelta(minutes=step) <= most:
            return step
    return 1440 * max(1, int(span / timedelta(days=1) / most) + 1)


def per_minute_figure(series: MinuteSeries, panels: list[tuple[str, str]], *, start: datetime | None = None,
                      end: datetime | None = None, height: int | None = None, font_size: int = 14,
                      marker_size: int = 7, line_width: float = 2.5, axis_titles: bool = False,
                      legend_entry_px: int | None = None):
    """Stacked per-minute panels (``(column, title)`` each) sharing a 24-hour UTC time axis, one
    styled trace per camera; panel titles above each panel, or on its y axis (``axis_titles``)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = series.rows
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.06 if axis_titles else 0.09,
                        subplot_titles=None if axis_titles else [title for _, title in panels])
    if axis_titles:
        for r, (_, title) in enumerate(panels, start=1):
            fig.update_yaxes(title_text=title, title_standoff=font_size, row=r, col=1)
    for c, (camera, rows) in enumerate(frame.groupby("camera_id", sort=True)):
        style = series_style(c)
        for r, (column, _) in enumerate(panels, start=1):
            fig.add_trace(go.Scatter(
                x=rows["minute"], y=rows[column], mode="lines+markers", name=str(camera), legendgroup=str(camera),
                showlegend=r == 1, line={"color": style["color"], "dash": style["dash"], "width": line_width},
                marker={"symbol": style["symbol"], "size": marker_size, "color": style["color"]},
                hovertemplate=f"%{{x|{TIME_FORMAT}}} {AXIS_ZONE}: %{{y:.2f}}<extra>{camera}</extra>"), row=r, col=1)
    fig.update_xaxes(tickformat=TIME_FORMAT, hoverformat=TIME_FORMAT, showgrid=True,
                     gridcolor="rgba(229,231,235,0.12)")
    fig.update_yaxes(rangemode="tozero", nticks=5, gridcolor="rgba(229,231,235,0.12)")
    axis_title = f"time ({AXIS_ZONE}, 24 h)"
    if series.partial_minute is not None:
        axis_title += f" · partial minute {series.partial_minute:{TIME_FORMAT}} not drawn"
    fig.update_xaxes(title_text=axis_title, row=len(panels), col=1)
    if not frame.empty or start is not None:
        first = floor_minute(start) if start is not None else frame["minute"].min()
        last = end if end is not None else series.partial_minute or frame["minute"].max() + timedelta(minutes=1)
        step = tick_minutes(last - first)
        fig.update_xaxes(range=[first, last], dtick=step * 60_000)
    fig.update_annotations(font_size=font_size)  # subplot titles
    entry_width = {"entrywidth": legend_entry_px, "entrywidthmode": "pixels"} if legend_entry_px else {}
    fig.update_layout(template="plotly_dark", font={"size": font_size}, paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", margin={"l": 8, "r": 8, "t": int(font_size * 2.2),
                                                             "b": int(font_size * 3.6)},
                      legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "xanchor": "left",
                              "font": {"size": font_size}, **entry_width}, hovermode="x unified")
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    if height:
        fig.update_layout(height=height)
    return fig
