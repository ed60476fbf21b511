"""Open a DuckDB database file attached with small row groups, one instance per file per process.

Why attach instead of ``duckdb.connect(path)``: the row-group size is an ``ATTACH`` option only, and
the default (122,880 rows) made large ingests slow. A transaction's appended rows stay in memory
until a row group of their table is full; at 1 GB of mixed records (five tables of ~100k rows
each) that is nearly all of them, far beyond the ingest's memory limit (768 MB then), so DuckDB evicted
and re-read them, and each eviction made it purge its allocator's freed memory (page faults on
every reuse). With 30,720-row groups full groups go to the file four times sooner: measured at
1 GB, 13.2-13.4 s -> 11.7-11.8 s and lower peak RSS, with rules and KQL as fast as before
(docs/ingest.md).

Why a registry: ``duckdb.connect(path)`` shares one DuckDB instance per file within a process,
and DuckDB refuses to attach a file that another instance of the process holds ("Unique file
handle conflict"). So the first warehouse on a file attaches it to a new in-memory instance and
later ones get connections to that instance; the last one to close detaches it. Every
connection must ``USE`` the attached database, since a new connection starts in ``memory``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlglot import exp

from entrawatch.errors import WarehouseError

#: Rows per row group of an attached database file (DuckDB's default: 122,880).
ROW_GROUP_SIZE = 30_720

#: Catalog names DuckDB keeps for itself; a file named after one is attached under another alias.
_RESERVED = {"memory", "temp", "system", "main"}


@dataclass
class _Attached:
    root: duckdb.DuckDBPyConnection
    alias: str
    read_only: bool
    users: int = 0
    functions: set[str] = field(default_factory=set)


_LOCK = threading.Lock()
_ATTACHED: dict[str, _Attached] = {}


def alias_for(path: str) -> str:
    """The catalog name: the file's stem, as ``duckdb.connect(path)`` names it, when usable."""
    stem = Path(path).stem
    return stem if stem.isidentifier() and stem.lower() not in _RESERVED else "warehouse"


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _attach(path: str, read_only: bool) -> _Attached:
    alias = alias_for(path)
    root = duckdb.connect(":memory:")
    options = f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}" + (", READ_ONLY" if read_only else "")
    try:
        # A file database spills to '<file>.tmp'; an in-memory instance would use './.tmp'.
        root.execute(f"SET temp_directory = {_literal(path + '.tmp')}").fetchall()
        root.execute(f"ATTACH {_literal(path)} AS {_ident(alias)} ({options})").fetchall()
    except duckdb.Error as err:
        root.close()
        raise WarehouseError(f"cannot open DuckDB database {path}: {err}") from err
    return _Attached(root, alias, read_only)


def connect(path: str, *, read_only: bool) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection whose default database is the file at ``path`` (attached on first use), and
    the attached database's name, which other connections must ``USE`` (see :func:`use`).

    Release it with :func:`release` after closing it.
    """
    key = os.path.realpath(path)
    with _LOCK:
        attached = _ATTACHED.get(key)
        if attached is None:
            attached = _ATTACHED[key] = _attach(path, read_only)
        elif attached.read_only != read_only:
            mode = "read-only" if attached.read_only else "read-write"
            raise WarehouseError(f"cannot open DuckDB database {path}: this process already has it open {mode}")
        con = attached.root.cursor()
        use(con, attached.alias)
        attached.users += 1
    return con, attached.alias


def ensure_function(path: str, name: str, register: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    """Register the Python function ``name`` once per attached instance, on its root connection.

    Why the root: DuckDB puts a Python function in the instance's catalog, where every connection
    sees it, but it calls through the connection that registered it. Registered from a cursor that
    later closes, the function stays in the catalog and fails when called (checked); the root
    lives as long as the instance.
    """
    with _LOCK:
        attached = _ATTACHED.get(os.path.realpath(path))
        if attached is None:
            raise WarehouseError(f"{path} is not open")
        if name not in attached.functions:
            register(attached.root)
            attached.functions.add(name)


def use(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Make ``alias`` the default database of ``con`` (a new connection starts in ``memory``)."""
    con.execute(f"USE {_ident(alias)}").fetchall()


def release(path: str) -> None:
    """One user of ``path`` is gone; the last one detaches the file (checkpoint, lock released)."""
    key = os.path.realpath(path)
    with _LOCK:
        attached = _ATTACHED.get(key)
        if attached is None:
            return
        attached.users -= 1
        if attached.users <= 0:
            del _ATTACHED[key]
            attached.root.close()
