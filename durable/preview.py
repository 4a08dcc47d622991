"""Previews: a small, masked summary of a value, kept beside data stored elsewhere.

A serdes that stores a value outside the checkpoint (a file, an object store)
can keep a preview in the checkpoint so that people reading the history see
the fields that matter without fetching the data.  Fields are chosen by
name anywhere in the tree or by dotted path from the root; `exclude` always
wins, a masked field is shown as `mask_string`, and the preview stops
growing at `max_preview_bytes` of JSON.  Lists are flattened into the object
at their path (a preview summarises, it does not reproduce).
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Any

__all__ = ["FieldMatchMode", "PreviewConfig", "PreviewField", "PreviewMode", "build_preview"]


class PreviewMode(StrEnum):
    """Where field selection starts: from every field, or from none."""

    INCLUDE_ALL = "INCLUDE_ALL"
    EXCLUDE_ALL = "EXCLUDE_ALL"


class FieldMatchMode(StrEnum):
    """ANYWHERE matches a field name at any depth; PATH matches one dotted path from the root."""

    ANYWHERE = "ANYWHERE"
    PATH = "PATH"


@dataclasses.dataclass(frozen=True)
class PreviewField:
    """A field selector.  Names are split on dots, so a key that contains a dot cannot be chosen."""

    name: str
    match: FieldMatchMode = FieldMatchMode.ANYWHERE

    def matches(self, path: str) -> bool:
        if self.match is FieldMatchMode.PATH:
            return path == self.name
        return self.name in path.split(".")


@dataclasses.dataclass(frozen=True)
class PreviewConfig:
    """What `build_preview` shows: `include` counts under EXCLUDE_ALL, `exclude` under INCLUDE_ALL."""

    mode: PreviewMode
    include: list[PreviewField] = dataclasses.field(default_factory=list)
    exclude: list[PreviewField] = dataclasses.field(default_factory=list)
    mask: list[PreviewField] = dataclasses.field(default_factory=list)
    mask_string: str = "***"
    max_preview_bytes: int = 4096


def _any_matches(path: str, fields: list[PreviewField]) -> bool:
    return any(f.matches(path) for f in fields)


def build_preview(value: Any, config: PreviewConfig) -> dict[str, Any] | None:
    """A nested dict of the fields `config` makes visible, or None when nothing is (or `value` is no dict)."""
    if not isinstance(value, dict):
        return None
    budget = config.max_preview_bytes - 2
    preview: dict[str, Any] = {}
    for path, shown in _collect(value, "", config):
        cost = len(f'"{path}":{json.dumps(shown)},'.encode())
        if cost > budget:
            break
        budget -= cost
        *parents, leaf = path.split(".")
        node = preview
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = shown
    return preview or None


def _collect(node: Any, prefix: str, config: PreviewConfig) -> list[tuple[str, Any]]:
    """Visible leaves under `node` in document order; recursion depth is the value's own depth."""
    if isinstance(node, list):
        return [leaf for item in node for leaf in _collect(item, prefix, config)]
    if not isinstance(node, dict):
        return []
    leaves: list[tuple[str, Any]] = []
    for key, child in node.items():
        if "." in str(key):
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        excluded = _any_matches(path, config.exclude)
        masked = _any_matches(path, config.mask)
        included = config.mode is PreviewMode.INCLUDE_ALL or _any_matches(path, config.include)
        shown = not excluded and (masked or included)
        if shown and masked:
            leaves.append((path, config.mask_string))
        elif shown and not isinstance(child, dict | list):
            leaves.append((path, child))
        elif shown or not excluded:
            leaves.extend(_collect(child, path, config))
    return leaves
