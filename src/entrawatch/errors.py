"""One error hierarchy for the whole package.

Only the edges (CLI, web API) translate these into exit codes or JSON; everything
inside raises the most specific class so callers can tell input problems from bugs.
"""

from __future__ import annotations


class EntrawatchError(Exception):
    """Base class of every error entrawatch raises on purpose."""


class SchemaError(EntrawatchError):
    """A table or column that the canonical schema does not define."""


class ReaderError(EntrawatchError):
    """Input that cannot be read; names the file and, where known, the record and field."""

    def __init__(self, message: str, *, path: str | None = None, record: int | None = None,
                 field: str | None = None) -> None:
        self.path = path
        self.record = record
        self.field = field
        where = ", ".join(
            part for part in (
                path,
                f"record {record}" if record is not None else None,
                f"field {field!r}" if field else None,
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message


class WarehouseError(EntrawatchError):
    """The storage engine refused an operation (bad SQL, missing table, I/O)."""


class KqlError(EntrawatchError):
    """Base of KQL errors; carries the 1-based line and column of the offending construct."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 query: str | None = None) -> None:
        self.line = line
        self.column = column
        self.query = query
        self.reason = message
        text = message
        if line is not None and column is not None:
            text = f"{message} (line {line}, column {column})"
            if query is not None:
                lines = query.splitlines() or [""]
                if 1 <= line <= len(lines):
                    text += f"\n  {lines[line - 1]}\n  {' ' * (column - 1)}^"
        super().__init__(text)


class KqlSyntaxError(KqlError):
    """The query does not parse."""


class KqlUnsupportedError(KqlError):
    """Valid KQL that entrawatch does not implement: refused instead of answered wrongly."""


class KqlSemanticError(KqlError):
    """Unknown table/column, wrong argument types, and similar binding problems."""


class RuleError(EntrawatchError):
    """An analytics rule file is invalid; names the file, the line and the field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = message
        where = f"{path}:{line}" if path and line else (path or "")
        if field:
            where = f"{where} [{field}]" if where else f"[{field}]"
        super().__init__(f"{where}: {message}" if where else message)


class SimulatorError(EntrawatchError):
    """Bad simulator arguments (unknown scenario, impossible dates)."""


class ConnectorError(EntrawatchError):
    """A live connector failed (auth, licence, throttling beyond retries)."""
