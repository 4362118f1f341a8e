"""Catalogs as data: stage kinds, properties, threat rules, controls, roles and references."""
