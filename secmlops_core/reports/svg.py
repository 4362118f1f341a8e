"""Inline SVG pictures for reports: the pipeline graph coloured by risk, and the heat map.

Everything here is generated from data and every piece of text is escaped.
"""

from __future__ import annotations

from html import escape

from secmlops_core.pipeline.layout import layered_positions
from secmlops_core.threats.assessment import Assessment
from secmlops_core.threats.risk import matrix_bands

BAND_COLORS = {"none": "#90a4ae", "low": "#2e7d32", "medium": "#f9a825", "elevated": "#ef6c00",
               "high": "#d84315", "critical": "#b71c1c"}
PATH_COLOR = "#6a1b9a"
MAX_GRAPH_STAGES = 400


def stage_positions(pipeline) -> dict[str, tuple[float, float]]:
    """Stored positions when every stage has one, else the layered auto-layout."""
    if pipeline.stages and all(stage.position for stage in pipeline.stages):
        return {stage.id: stage.position for stage in pipeline.stages}
    return layered_positions(pipeline)


def graph_svg(assessment: Assessment, highlight_paths: int = 3, width: int = 1100) -> str:
    """The pipeline as an SVG picture: stages coloured by risk, top attack paths highlighted."""
    pipeline = assessment.pipeline
    if len(pipeline.stages) > MAX_GRAPH_STAGES:
        return (f'<p class="note">The graph picture is omitted for pipelines over {MAX_GRAPH_STAGES} stages '
                f'({len(pipeline.stages)} here).</p>')
    if not pipeline.stages:
        return '<p class="note">The pipeline has no stages.</p>'
    positions = stage_positions(pipeline)
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    span_x, span_y = max(max(xs) - min(xs), 1.0), max(max(ys) - min(ys), 1.0)
    margin, node_w, node_h = 70, 120, 34
    scale = min((width - 2 * margin) / span_x, 2.0)
    height = int(span_y * scale + 2 * margin)

    def at(stage_id):
        x, y = positions[stage_id]
        return margin + (x - min(xs)) * scale, margin + (y - min(ys)) * scale

    on_path = set()
    for path in assessment.paths[:highlight_paths]:
        on_path.update(zip(path.stages, path.stages[1:]))
    bands = assessment.worst_band_by_stage()
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="Pipeline graph coloured by risk">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/></marker></defs>']
    def border(x1, y1, x2, y2):
        """The point where the line from (x1, y1) enters the target's box (so the arrow shows)."""
        dx, dy = x2 - x1, y2 - y1
        if not dx and not dy:
            return x2, y2
        t = min((node_w / 2 + 3) / abs(dx) if dx else float("inf"), (node_h / 2 + 3) / abs(dy) if dy else float("inf"))
        return x2 - dx * t, y2 - dy * t

    for flow in pipeline.flows:
        (x1, y1), (x2, y2) = at(flow.source), at(flow.target)
        x2, y2 = border(x1, y1, x2, y2)
        hot = (flow.source, flow.target) in on_path
        stroke = PATH_COLOR if hot else "#90a4ae"
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                     f'stroke-width="{4 if hot else 1.5}" marker-end="url(#arrow)"><title>{escape(flow.id)}: '
                     f'{escape(flow.name)}</title></line>')
    for stage in pipeline.stages:
        x, y = at(stage.id)
        color = BAND_COLORS[bands[stage.id]]
        label = stage.name if len(stage.name) <= 18 else stage.name[:17] + "\u2026"
        parts.append(f'<g><title>{escape(stage.name)} ({escape(stage.kind)}): worst open risk '
                     f'{escape(bands[stage.id])}</title>'
                     f'<rect x="{x - node_w / 2:.1f}" y="{y - node_h / 2:.1f}" width="{node_w}" height="{node_h}" '
                     f'rx="6" fill="{color}" stroke="#263238"/>'
                     f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11" fill="#ffffff">'
                     f'{escape(label)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap_svg(grid: list[list[int]], cell: int = 56) -> str:
    """A 5x5 likelihood x impact heat map with counts (rows likelihood 5..1, columns impact 1..5)."""
    bands = matrix_bands()
    left, top = 90, 20
    size_w, size_h = left + 5 * cell + 10, top + 5 * cell + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size_w} {size_h}" width="{size_w}" '
             f'role="img" aria-label="Risk heat map">']
    for row in range(5):
        likelihood = 5 - row
        parts.append(f'<text x="{left - 8}" y="{top + row * cell + cell / 2 + 4:.0f}" text-anchor="end" '
                     f'font-size="12">L{likelihood}</text>')
        for column in range(5):
            count = grid[row][column]
            band = bands[row][column]
            parts.append(f'<rect x="{left + column * cell}" y="{top + row * cell}" width="{cell - 2}" '
                         f'height="{cell - 2}" fill="{BAND_COLORS[band]}" opacity="{1.0 if count else 0.35}">'
                         f'<title>likelihood {likelihood}, impact {column + 1}: {band}, {count} threat(s)</title>'
                         f'</rect>')
            if count:
                parts.append(f'<text x="{left + column * cell + cell / 2 - 1:.0f}" '
                             f'y="{top + row * cell + cell / 2 + 5:.0f}" text-anchor="middle" font-size="15" '
                             f'font-weight="bold" fill="#ffffff">{count}</text>')
    for column in range(5):
        parts.append(f'<text x="{left + column * cell + cell / 2:.0f}" y="{top + 5 * cell + 16}" '
                     f'text-anchor="middle" font-size="12">I{column + 1}</text>')
    parts.append(f'<text x="{left + 2.5 * cell:.0f}" y="{top + 5 * cell + 38}" text-anchor="middle" '
                 f'font-size="12">impact \u2192 (rows: likelihood)</text></svg>')
    return "".join(parts)
