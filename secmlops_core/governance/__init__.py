"""Governance workspace: the PTPGC model made operational for one pipeline at a time.

People (role profiles, RACI, accountability gaps), Technology (control status and the
tooling each control relies on), Processes (lifecycle gates evaluated from evidence),
Governance and Compliance (framework mappings, coverage, maturity) and Provenance (the chain
behind the deployed detector). Catalogs are data: ``catalog/frameworks/*.yaml``,
``catalog/gates.yaml``, ``catalog/raci.yaml`` and ``governance/tooling.yaml``.
"""
