"""Safe parsing of YAML or JSON text from users: size limit, no anchors or aliases, clear problems.

YAML anchors and aliases are refused: the project's files never need them and they are the
vehicle of "billion laughs" expansion bombs. Every failure is a ValidationFailed naming the
source, with one readable problem (line and column where the parser knows them).

This module sits on the ground floor next to ``errors`` and ``settings``: it imports nothing
else from the project, so any package (pipeline files, user rule files) may use it.
"""

from __future__ import annotations

import json

import yaml

from secmlops_core.errors import ValidationFailed

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_CSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NoAliasLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects anchors and aliases outright."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)

    def compose_scalar_node(self, anchor):
        if anchor is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "YAML anchors are not allowed", self.peek_event().start_mark)
        return super().compose_scalar_node(anchor)

    def compose_sequence_node(self, anchor):
        if anchor is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "YAML anchors are not allowed", self.peek_event().start_mark)
        return super().compose_sequence_node(anchor)

    def compose_mapping_node(self, anchor):
        if anchor is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "YAML anchors are not allowed", self.peek_event().start_mark)
        return super().compose_mapping_node(anchor)


def parse_text(data: bytes | str, fmt: str, source: str = "file", max_bytes: int = DEFAULT_MAX_BYTES):
    """Parse YAML/JSON text into plain Python data, enforcing the size limit."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise ValidationFailed([f"the file is {len(raw) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB"],
                               source)
    if not raw.strip():
        raise ValidationFailed(["the file is empty"], source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed([f"the file is not UTF-8 text (byte {exc.start})"], source) from None
    try:
        if fmt == "json":
            return json.loads(text)
        # The C loader is many times faster; only text that could hold an anchor or alias
        # goes through the slower loader that refuses them.
        loader = _NoAliasLoader if ("&" in text or "*" in text) else _CSafeLoader
        return yaml.load(text, Loader=loader)  # noqa: S506 - both loaders are safe loaders
    except json.JSONDecodeError as exc:
        raise ValidationFailed([f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"],
                               source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationFailed([f"invalid YAML{where}: {problem}"], source) from None
    except RecursionError:
        raise ValidationFailed(["nesting is too deep"], source) from None
