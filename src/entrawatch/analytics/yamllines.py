"""YAML loading that remembers where every value came from.

Validation must name ``path:line`` for each problem, and PyYAML's ``safe_load`` forgets lines. We
compose the node graph (which keeps marks) and build plain Python values from it, recording the
1-based line of every mapping key and sequence item under its key path, e.g.
``("entityMappings", 0, "fieldMappings", 1, "columnName") -> 42``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """A parsed YAML document plus the line of each key path."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, *path: str | int) -> int:
        """Line of ``path``, or of its nearest located ancestor (1 for the document)."""
        current: Path = tuple(path)
        while current:
            if current in self.lines:
                return self.lines[current]
            current = current[:-1]
        return self.lines.get((), 1)


def load_located(text: str) -> LocatedDocument:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with its own mark) on bad syntax."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return LocatedDocument(None, {(): 1})
        doc = LocatedDocument(None, {(): node.start_mark.line + 1})
        doc.data = _build(loader, node, (), doc.lines)
        return doc
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<) like safe_load does
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_path = (*path, key)
            lines[key_path] = key_node.start_mark.line + 1
            result[key] = _build(loader, value_node, key_path, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            lines[item_path] = item.start_mark.line + 1
            items.append(_build(loader, item, item_path, lines))
        return items
    return loader.construct_object(node, deep=True)
