"""Monitoring: drift between telemetry windows (Evidently), alert rules as data, incidents.

* :mod:`.windows` parses and checks time windows (``START..END``, relative ``-30m..now``).
* :mod:`.drift` compares a reference and a current window per column with Evidently; big
  windows are reduced in DuckDB first (:mod:`.binning`) so a 1M-row window resolves in about
  a second with the same per-column verdicts as Evidently on the full data.
* :mod:`.reference` keeps each camera's drift reference: pinned by an operator, else its first
  settled stretch of normal operation (found once, then kept).
* :mod:`.snapshots` stores drift results with their windows (and as evidence).
* :mod:`.rules` loads the alert rules (``catalog/alert_rules.yaml``), :mod:`.evaluate` turns
  them into incidents (deduplicated, with cooldown; drift in episodes that start and end),
  :mod:`.incidents` holds the lifecycle.
* :mod:`.events` lists scenario switches, drift starts and ends and incidents as one timeline.
* :mod:`.wall` gathers what the ops wall shows in one call per refresh.
"""
