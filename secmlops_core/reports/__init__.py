"""Threat reports: JSON (stable schema), Markdown, printable HTML, CSV and SARIF 2.1.0."""
