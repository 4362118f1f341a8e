"""Camera feeds: sources, scenarios, the runner process and its per-camera status files."""
