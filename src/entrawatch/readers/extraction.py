"""Read every field a family needs with one JSON parse per record.

DuckDB's ``json_transform`` turns a record into a STRUCT in one pass; a per-field ``->>`` would
parse the record again for every column (~90 of them), which is what made a naive SQL normalizer
slow. Leaves are ``VARCHAR`` (``->>`` semantics: strings unquoted, objects as JSON text) unless a
dynamic column needs the JSON value, or a deeper path is read from under the leaf. Paths that
cannot live in one STRUCT (a child of another leaf, or a key differing only in case from a
sibling: STRUCT fields are case-insensitive) are read separately (``side``), from the nearest JSON
leaf above them or else from the record; they are fallbacks inside ``coalesce``, so DuckDB only
evaluates them for rows whose preferred source is null. Staging parses with the routing keys
only; each table's normalize statement parses with that table's fields, so no wide STRUCT is
ever materialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import orjson
from sqlglot import exp

from entrawatch import schema
from entrawatch.readers import mapping
from entrawatch.readers.sqlexpr import ident, json_path, parse

#: Keys read for routing, per family (top-level keys of the record).
ROUTE_KEYS = {
    mapping.DIAG: ("category",),
    mapping.GRAPH: ("@odata.type", "activityDisplayName", "initiatedBy", "targetResources", "loggedByService",
                    "createdDateTime", "signInEventTypes", "managedServiceIdentity", "userId", "userPrincipalName",
                    "servicePrincipalId", "isInteractive", "signInCount", "aggregatedEventDateTime"),
    mapping.LA: ("Type", "Category", "ActivityDateTime", "ActivityDisplayName", "InitiatedBy"),
}

#: Where the record id lives, per family: staged as ``_rid`` to spot repeated ids in a chunk cheaply.
ID_PATH = {mapping.DIAG: ("properties", "id"), mapping.GRAPH: ("id",), mapping.LA: ("Id",)}

STRUCT_COLUMN = "_ew_t"
RAW_COLUMN = "raw"


@dataclass
class Extraction:
    """Where each path of a family is read from: the STRUCT or the side list."""

    struct: dict = field(default_factory=dict)
    json_leaves: set[tuple[str, ...]] = field(default_factory=set)
    side: list[tuple[str, ...]] = field(default_factory=list)

    def struct_spec(self) -> str:
        """The ``json_transform`` structure (our own constant text)."""
        return orjson.dumps(self.struct).decode()

    def _struct_access(self, path: tuple[str, ...]) -> exp.Expression:
        node: exp.Expression = ident(STRUCT_COLUMN)
        for key in path:
            node = exp.Anonymous(this="struct_extract", expressions=[node, exp.Literal.string(key)])
        return node

    def _side_base(self, path: tuple[str, ...]) -> tuple[exp.Expression, tuple[str, ...]]:
        """Where a side path is read from: the nearest JSON leaf holding it (a small object,
        e.g. ``properties.status`` for ``properties.status.errorCode``), else the whole record.

        Fallback sources are read for every row whose preferred source is absent (sign-ins have
        no envelope ``resultDescription``), so re-parsing the ~4 KB record there was costly.
        """
        for cut in range(len(path) - 1, 0, -1):
            if path[:cut] in self.json_leaves:
                return self._struct_access(path[:cut]), path[cut:]
        return ident(RAW_COLUMN), path

    def text(self, path: tuple[str, ...]) -> exp.Expression:
        """The value as text (NULL when missing or JSON null)."""
        if path in self.side:
            base, rest = self._side_base(path)
            return parse(":r ->> :p", r=base, p=json_path(rest))
        if path in self.json_leaves:
            return parse(":v ->> '$'", v=self._struct_access(path))
        return self._struct_access(path)

    def json(self, path: tuple[str, ...]) -> exp.Expression:
        """The JSON value (NULL when missing or JSON null)."""
        if path in self.side:
            base, rest = self._side_base(path)
            return parse("nullif(:r -> :p, CAST('null' AS JSON))", r=base, p=json_path(rest))
        if path in self.json_leaves:
            return parse("nullif(:v, CAST('null' AS JSON))", v=self._struct_access(path))
        return parse("to_json(:v)", v=self._struct_access(path))



def _family_paths(family: str, table: str | None) -> tuple[list[tuple[str, ...]], set[tuple[str, ...]]]:
    paths: list[tuple[str, ...]] = [(k,) for k in ROUTE_KEYS[family]] + [ID_PATH[family]]
    dynamic: set[tuple[str, ...]] = set()
    for name in [table] if table else []:
        tbl = schema.table(name)
        for column, sources in mapping.column_sources(family, name).items():
            for src in sources:
                if src.path not in paths:
                    paths.append(src.path)
                if tbl.column(column).kql_type == "dynamic":
                    dynamic.add(src.path)
    # A path with a deeper path under it (``properties.status`` over ``status.failureReason``) is
    # read as JSON even for a string column, so that the deeper one is read from that small value
    # (see Extraction._side_base) instead of from the whole record. For AADNonInteractiveUserSignInLogs,
    # whose Status is a string, every row re-parsed its ~4 KB record for ResultDescription: 17 % of
    # the table's normalize statement without _Extra (measured, docs/ingest.md).
    for path in paths:
        if any(len(other) > len(path) and other[: len(path)] == path for other in paths):
            dynamic.add(path)
    return paths, dynamic


@cache
def family_extraction(family: str, table: str | None = None) -> Extraction:
    """The extraction plan of one source family: its routing keys, plus ``table``'s sources."""
    paths, dynamic = _family_paths(family, table)
    result = Extraction()
    for path in sorted(paths, key=len):
        node = result.struct
        placed = True
        for depth, key in enumerate(path):
            siblings = {k.lower(): k for k in node}
            existing = siblings.get(key.lower())
            last = depth == len(path) - 1
            if existing is not None and existing != key:
                placed = False  # case-insensitive clash with a sibling
                break
            if last:
                if key in node:
                    placed = False
                    break
                node[key] = "JSON" if path in dynamic else "VARCHAR"
            else:
                child = node.get(key)
                if child is None:
                    child = node[key] = {}
                if not isinstance(child, dict):
                    placed = False  # an ancestor is already a leaf
                    break
                node = child
        if placed:
            if path in dynamic:
                result.json_leaves.add(path)
        else:
            _prune_empty(result.struct)
            result.side.append(path)
    return result


def _prune_empty(node: dict) -> None:
    for key in [k for k, v in node.items() if isinstance(v, dict)]:
        _prune_empty(node[key])
        if not node[key]:
            del node[key]
