"""A table's normalized rows computed natively from the records' text, for the rows it is sure of.

The normalize statement (``sqlgen.normalize_sql``) is most of an ingest's CPU: ``json_transform``
of ~40-90 paths per record, then each column's coalesce and type, then ``_Extra``. For diagnostic
records this module computes the same columns in one C pass per record (``_jsonscan.columns``,
see the C source) and ``_Extra`` with the scanner of :mod:`entrawatch.readers.remainder`. Rows the
pass cannot promise to compute exactly as DuckDB does (a real it would reformat, a time in another
form, an escaped key) or that would go to quarantine (a missing id or time, text a type refuses)
are flagged *unsure*; the caller runs the normalize statement for those rows only, so every row
and every quarantine reason still comes from one definition. tests/readers/test_rowscan.py holds
the two to the same output on generated records and on every dataset file.

Only what the pass knows is taken: the diagnostic family (Graph and Log Analytics rows carry
special columns: the LA ``Id`` hash, Graph's summary flags) and the column types text, dynamic,
datetime, long, int and bool. Anything else returns no :class:`Program`, and the statement runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from entrawatch import schema
from entrawatch.readers import jsonscan, mapping, remainder, sqlgen
from entrawatch.readers.jsonscan import native as _jsonscan

__all__ = ["BlockRows", "Program", "available", "block_rows", "program", "rows"]

#: Column kinds of ``_jsonscan.columns``, by KQL type.
_KINDS = {"string": 0, "guid": 0, "dynamic": 1, "datetime": 2, "long": 3, "int": 4, "bool": 5}
#: Arrow types of the statement's result, by DuckDB type (what DuckDB exports; JSON as text).
ARROW_TYPES = {"VARCHAR": pa.string(), "JSON": pa.string(), "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
               "BIGINT": pa.int64(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(), "DOUBLE": pa.float64()}
_REQUIRED = {"Id", "TimeGenerated"}
#: Rows per C call: keeps every text column below 32-bit Arrow offsets.
_ROWS_PER_CALL = 32_768


def available() -> bool:
    """Whether rows are computed natively (the C scans are built and not turned off)."""
    return jsonscan.available()


@dataclass(frozen=True)
class Program:
    """What the C pass computes for one table: the paths it captures, and each sourced column."""

    table: str
    tree: dict
    slots: int
    #: (column name, kind, required, [slot, ...] in coalesce order)
    columns: tuple[tuple[str, int, int, tuple[int, ...]], ...]
    #: ``_Extra``'s conditional removals (``sqlexpr.ExtraPlan.conditions``) as slots that must all be null.
    conditions: tuple[tuple[int, ...], ...]


@cache
def program(family: str, table: str) -> Program | None:
    """The native program of ``table`` for ``family``, or None when the statement must run."""
    if family != mapping.DIAG or table not in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
        return None
    tbl = schema.table(table)
    sources = mapping.column_sources(family, table)
    slots: dict[tuple[str, ...], int] = {}

    def slot(path: tuple[str, ...]) -> int:
        return slots.setdefault(path, len(slots))

    columns = []
    for col in tbl.columns:
        if col.name not in sources:
            continue
        kind = _KINDS.get(col.kql_type)
        if kind is None:
            return None
        columns.append((col.name, kind, int(col.name in _REQUIRED), tuple(slot(s.path) for s in sources[col.name])))
    conditions = tuple(tuple(slot(p) for p in earlier) for _, earlier in mapping.removable_paths(family, table)
                       if earlier)
    if len(conditions) > 3:
        return None
    for path in list(slots):
        for cut in range(1, len(path)):
            slot(path[:cut])  # a prefix's span lets _Extra's cut jump over the object it names
    tree: dict = {}
    for path, number in slots.items():
        node = tree
        for depth, key in enumerate(path):
            here, below = node.get(key, (-1, None))
            if depth == len(path) - 1:
                node[key] = (number, below)
            else:
                below = below if below is not None else {}
                node[key] = (here, below)
                node = below
    return Program(table, tree, len(slots), tuple(columns), conditions)


def rows(staged: pa.Table, family: str, table: str, source_files: list[str], shapes: list[str],
         ingested_at: datetime) -> tuple[pa.Table, pa.Array]:
    """``table``'s normalized rows of ``staged`` (``_file``, ``line``, ``idx``, ``raw``, ``agg``), as
    the normalize statement returns them, and a boolean mask of the *unsure* rows.

    Unsure rows are in the result with null columns: the caller drops them and runs the statement
    for them (``Normalizer``). ``source_files``/``shapes`` are indexed by ``_file``.
    """
    prog = _program_or_raise(family, table)
    raw = staged.column("raw").combine_chunks() if staged.num_rows else pa.array([], pa.string())
    computed, unsure, extra = _columns(prog, family, raw, None)
    table_rows = _assemble(prog, computed, extra, staged.column("_file"), staged.column("line"), staged.column("idx"),
                           staged.column("agg"), source_files, shapes, ingested_at)
    return table_rows, unsure


@dataclass
class BlockRows:
    """A JSON-lines block's records, normalized per target table (every row sure)."""

    records: int
    tables: dict[str, pa.Table]


def block_rows(data: bytes | bytearray | memoryview, family: str, file_number: int, first_line: int,
               source_files: list[str], shapes: list[str], ingested_at: datetime) -> BlockRows | None:
    """Every record of a JSON-lines block (``framing.LineBlock``: valid UTF-8, whole lines)
    normalized natively, without staging it in DuckDB; None unless *every* line is sure.

    Sure means: every line blank or ``{...}`` (``_jsonscan.line_records``), every record's
    ``category`` one of the five tables, every row sure for its table. Anything else (a
    quarantine, an unusual line, an unsure value) returns None and the caller stages the block
    in SQL as before, so what is stored never depends on which road a block took. ``idx`` counts
    the block's records from 0 and ``line`` is ``first_line`` plus the line's number, as the stage
    numbers them.
    """
    if _jsonscan is None or family != mapping.DIAG:
        return None
    found = _jsonscan.line_records(data)
    if found is None:
        return None
    starts, line_numbers = found
    count = len(line_numbers) // 8
    raw = pa.Array.from_buffers(pa.large_string(), count, [None, pa.py_buffer(starts), pa.py_buffer(data)])
    validity, offsets, text, unsure = _jsonscan.top_text(starts, data, 8, 0, count, "category")
    if any(unsure):
        return None
    categories = pa.Array.from_buffers(pa.string(), count, [pa.py_buffer(validity), pa.py_buffer(offsets),
                                                            pa.py_buffer(text)])
    tables = [schema.CATEGORY_TO_TABLE[c] for c in _ROUTED_CATEGORIES]
    codes = pc.index_in(categories, value_set=pa.array(_ROUTED_CATEGORIES, pa.string()))
    if codes.null_count:
        return None  # a category to quarantine, or a table this pass does not compute
    codes_np = codes.to_numpy(zero_copy_only=False)
    lines = np.frombuffer(line_numbers, np.int64) + first_line
    result: dict[str, pa.Table] = {}
    for code, table in enumerate(tables):
        picked = np.flatnonzero(codes_np == code)
        if not len(picked):
            continue
        prog = _program_or_raise(family, table)
        computed, unsure_rows, extra = _columns(prog, family, raw, picked)
        if unsure_rows.true_count:
            return None
        size = len(picked)
        result[table] = _assemble(prog, computed, extra, pa.repeat(pa.scalar(file_number, pa.int32()), size),
                                  pa.array(lines[picked]), pa.array(picked.astype(np.int64)),
                                  pa.repeat(pa.scalar(False), size), source_files, shapes, ingested_at)
    return BlockRows(count, result)


#: Diagnostic categories whose rows the pass computes (the five tables' own).
_ROUTED_CATEGORIES = [c for c, t in schema.CATEGORY_TO_TABLE.items() if t in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)]


def _program_or_raise(family: str, table: str) -> Program:
    prog = program(family, table)
    if prog is None or _jsonscan is None:
        raise ValueError(f"no native program for {family}/{table}")
    return prog


def _columns(prog: Program, family: str, raw: pa.Array, picked: np.ndarray | None
             ) -> tuple[dict[str, pa.ChunkedArray], pa.Array, pa.ChunkedArray]:
    """The C pass over ``raw`` (or its ``picked`` rows), in calls of at most :data:`_ROWS_PER_CALL`
    rows: the sourced columns, the unsure mask, and ``_Extra`` (null on unsure rows)."""
    count = len(raw) if picked is None else len(picked)
    patches = list(sqlgen.extra_patches(family, prog.table))
    computed: dict[str, list[pa.Array]] = {name: [] for name, *_ in prog.columns}
    unsure_parts: list[np.ndarray] = []
    extras: list[pa.Array] = []
    for start in range(0, count, _ROWS_PER_CALL):
        piece, rows = (raw.slice(start, _ROWS_PER_CALL), None) if picked is None else \
            (raw, picked[start:start + _ROWS_PER_CALL])
        arrays, unsure, extra = _call(prog, piece, rows, patches)
        for (name, *_), array in zip(prog.columns, arrays, strict=True):
            computed[name].append(array)
        unsure_parts.append(unsure)
        extras.append(extra)
    unsure_mask = np.concatenate(unsure_parts) if unsure_parts else np.zeros(0, bool)
    types = {name: ARROW_TYPES[schema.table(prog.table).column(name).duckdb_type] for name, *_ in prog.columns}
    return ({name: pa.chunked_array(arrays, types[name]) for name, arrays in computed.items()},
            pa.array(unsure_mask, pa.bool_()), pa.chunked_array(extras, pa.string()))


def _assemble(prog: Program, computed: dict[str, pa.ChunkedArray], extra: pa.Array, file_numbers: pa.Array,
              lines: pa.Array, idx: pa.Array, agg: pa.Array, source_files: list[str], shapes: list[str],
              ingested_at: datetime) -> pa.Table:
    """The statement's result columns, in its order: the table's columns, then ``_reason``,
    ``_field`` (null: sure rows are valid), ``_file``, ``line``, ``idx`` and ``raw`` (null: kept
    only for quarantined rows)."""
    count = len(idx)
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for col in schema.table(prog.table).columns:
        arrow_type = ARROW_TYPES[col.duckdb_type]
        if col.name == "_SourceFile":
            out[col.name] = pa.array(source_files, pa.string()).take(file_numbers)
        elif col.name == "_SourceShape":
            out[col.name] = pa.array(shapes, pa.string()).take(file_numbers)
        elif col.name == "_IngestedAt":
            out[col.name] = pa.repeat(pa.scalar(ingested_at, arrow_type), count)
        elif col.name == "_Extra":
            out[col.name] = extra
        elif col.name == "_Aggregated":
            out[col.name] = pc.fill_null(agg.cast(pa.bool_()), False)
        elif col.name == "Type":
            out[col.name] = pa.repeat(pa.scalar(prog.table, pa.string()), count)
        elif col.name in computed:
            out[col.name] = computed[col.name]
        else:
            out[col.name] = pa.nulls(count, arrow_type)
    null_text = pa.nulls(count, pa.string())
    out["_reason"] = null_text
    out["_field"] = null_text
    out["_file"] = file_numbers
    out["line"] = lines
    out["idx"] = idx
    out["raw"] = null_text
    return pa.table(out)


def _call(prog: Program, piece: pa.Array, picked: np.ndarray | None, patches: list[dict]
          ) -> tuple[list[pa.Array], np.ndarray, pa.Array]:
    """One C call over ``piece`` (at most :data:`_ROWS_PER_CALL` rows), or its ``picked`` rows: the
    columns, the unsure mask, and ``_Extra`` (DuckDB cuts the sure rows the scan leaves)."""
    count = len(piece) if picked is None else len(picked)
    offsets, data, width, start = jsonscan.text_buffers(piece)
    columns = [(kind, required, list(sources)) for _, kind, required, sources in prog.columns]
    rows_buffer = None if picked is None else np.ascontiguousarray(picked, np.int64)
    results, unsure_bytes, selectors, extra_buffers = _jsonscan.columns(
        offsets, data, width, start, len(piece), prog.tree, prog.slots, columns, [list(c) for c in prog.conditions],
        rows_buffer, patches)
    unsure = np.frombuffer(unsure_bytes, np.uint8).astype(bool)
    if piece.null_count:
        # a null record (never staged as a target's row, but cheap to honour): unsure
        unsure |= np.asarray(pc.is_null(piece if picked is None else piece.take(pa.array(picked))), bool)
    arrays = []
    for (_, kind, _, _), buffers in zip(prog.columns, results, strict=True):
        validity = pa.py_buffer(buffers[0])
        if kind in (0, 1):
            arrays.append(pa.Array.from_buffers(pa.string(), count, [validity, pa.py_buffer(buffers[1]),
                                                                      pa.py_buffer(buffers[2])]))
        else:
            arrow_type = {2: pa.timestamp("us", tz="UTC"), 3: pa.int64(), 4: pa.int32(), 5: pa.bool_()}[kind]
            arrays.append(pa.Array.from_buffers(arrow_type, count, [validity, pa.py_buffer(buffers[1])]))
    validity, offsets_out, text, extra_unsure = extra_buffers
    extra = pa.Array.from_buffers(pa.string(), count, [pa.py_buffer(validity), pa.py_buffer(offsets_out),
                                                       pa.py_buffer(text)])
    redo = np.frombuffer(extra_unsure, np.uint8).astype(bool) & ~unsure
    if redo.any():
        which = np.flatnonzero(redo)
        records = (piece if picked is None else piece.take(pa.array(picked))).take(pa.array(which)).to_pylist()
        chosen = np.frombuffer(selectors, np.uint8)[which]
        cut = remainder.merged_by_duckdb(records, [patches[k] for k in chosen])
        extra = pc.replace_with_mask(extra, pa.array(redo), pa.array(cut, pa.string()))
    return arrays, unsure, extra
