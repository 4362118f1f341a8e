"""One entry point for every report format (used by the CLI and the Threats page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from secmlops_core.reports.html_report import render_html
from secmlops_core.reports.sarif import render_sarif
from secmlops_core.reports.text_formats import render_csv, render_markdown
from secmlops_core.reports.threat_report import render_json
from secmlops_core.threats.assessment import Assessment


@dataclass(frozen=True)
class ReportFormat:
    """A report format: label, file extension and MIME type."""

    id: str
    label: str
    extension: str
    mime: str
    render: Callable[..., str]


FORMATS = {
    "md": ReportFormat("md", "Markdown", "md", "text/markdown", render_markdown),
    "html": ReportFormat("html", "HTML (printable)", "html", "text/html", render_html),
    "json": ReportFormat("json", "JSON", "json", "application/json", render_json),
    "csv": ReportFormat("csv", "CSV", "csv", "text/csv", render_csv),
    "sarif": ReportFormat("sarif", "SARIF 2.1.0", "sarif", "application/sarif+json", render_sarif),
}


def render(assessment: Assessment, fmt: str, artifact_uri: str | None = None, source_text: str | None = None) -> str:
    """The report in format ``fmt`` (one of FORMATS)."""
    if fmt == "sarif":
        return render_sarif(assessment, artifact_uri, source_text)
    return FORMATS[fmt].render(assessment)


def file_name(assessment: Assessment, fmt: str) -> str:
    """A download file name such as ``pds-threats.html``."""
    return f"{assessment.pipeline.id}-threats.{FORMATS[fmt].extension}"
