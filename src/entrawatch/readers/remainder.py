"""``_Extra`` cut natively from a record's text, to the bytes DuckDB's merge patch would write.

``_Extra`` is the record minus the fields a column took: ``nullif(json_merge_patch(raw, patch),
'{}')`` in SQL (:func:`entrawatch.readers.sqlexpr.extra_expr`). DuckDB's merge patch deep-copies
the whole record into a mutable document before patching it: ~7-11 us per 2-4 KB record, 45 % of
the normalize statement (benchmarks/ingest_breakdown.py). The C scanner in ``_jsonscan.c`` copies
what stays in one pass. It writes what yyjson writes; where it cannot promise that (reals, ``-0``,
escaped keys, anything that is not plain JSON), it says it is unsure and those rows are computed
by DuckDB's ``json_merge_patch``, so the column is the same whichever path ran.

The normalize statement calls the scanner as the scalar function ``ew_extra(raw, 'family/table',
selector)`` (:func:`register`), so ``raw`` never leaves DuckDB except in the 2,048-row vectors the
function is handed. The extension is optional (``setup.py``, ``readers/jsonscan.py``): without a C compiler, or with
``ENTRAWATCH_NATIVE=0``, the statement calls ``json_merge_patch`` itself.
"""

from __future__ import annotations

import functools
import threading

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.sqltypes import UTINYINT, VARCHAR

from entrawatch.readers import jsonscan, sqlgen
from entrawatch.readers.jsonscan import native as _jsonscan
from entrawatch.readers.sqlexpr import EXTRA_FUNCTION

__all__ = ["available", "merged_by_duckdb", "register", "remainders"]

#: Rows handed to the scanner at once: keeps every output below 32-bit Arrow offsets.
_ROWS_PER_CALL = 65_536


def available() -> bool:
    """Whether ``_Extra`` is cut natively (see ``readers/jsonscan.py``)."""
    return jsonscan.available()


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Add :data:`EXTRA_FUNCTION` to ``con``'s DuckDB instance.

    Register it on a connection that lives as long as the instance (DuckDB calls the function
    through it; ``DuckDBWarehouse.ensure_function`` picks that connection).
    """
    con.create_function(EXTRA_FUNCTION, _extra_function, [VARCHAR, VARCHAR, UTINYINT], VARCHAR,
                        type="arrow", null_handling="special", side_effects=False)


def _extra_function(raw: pa.Array | pa.ChunkedArray, table: pa.Array | pa.ChunkedArray,
                    selectors: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The body of :data:`EXTRA_FUNCTION`: ``table`` is ``'family/table'``, the same on every row."""
    names = pc.unique(table).to_pylist()
    if len(names) != 1 or names[0] is None:
        raise ValueError(f"{EXTRA_FUNCTION} takes one constant 'family/table', got {names[:3]}")
    family, _, target = names[0].partition("/")
    return remainders(raw, selectors, sqlgen.extra_patches(family, target)).combine_chunks()


def remainders(raw: pa.Array | pa.ChunkedArray, selectors: pa.Array | pa.ChunkedArray | None,
               patches: tuple[dict, ...] | list[dict]) -> pa.ChunkedArray:
    """``nullif(json_merge_patch(raw[i], patches[selectors[i]]), '{}')`` for every row.

    ``raw`` holds JSON objects as text (a null row gives null; a row that is not an object is
    computed by DuckDB, which raises as the SQL path would). ``selectors`` (unsigned bytes; None:
    patch 0 for every row) picks each row's patch. The rows the scanner is unsure of run on a
    private in-memory DuckDB (the caller's connection is busy running the statement).
    """
    if _jsonscan is None:
        raise RuntimeError("entrawatch.readers._jsonscan is not built (see setup.py)")
    raw = raw if isinstance(raw, pa.ChunkedArray) else pa.chunked_array([raw])
    if selectors is not None:
        selectors = selectors if isinstance(selectors, pa.ChunkedArray) else pa.chunked_array([selectors])
        selectors = selectors.cast(pa.uint8())
        if len(selectors) != len(raw):
            raise ValueError("one selector per row")
    patches = list(patches)
    pieces: list[pa.Array] = []
    done = 0
    for chunk in raw.chunks:
        chosen = None if selectors is None else selectors.slice(done, len(chunk)).combine_chunks()
        for start in range(0, len(chunk), _ROWS_PER_CALL):
            piece = chunk.slice(start, _ROWS_PER_CALL)
            pieces.append(_cut(piece, None if chosen is None else chosen.slice(start, len(piece)), patches))
        done += len(chunk)
    return pa.chunked_array(pieces, pa.string())


def _cut(piece: pa.Array, chosen: pa.Array | None, patches: list[dict]) -> pa.Array:
    """One call of the scanner, then DuckDB for the rows it is unsure of."""
    count = len(piece)
    if piece.null_count == count:
        return pa.nulls(count, pa.string())
    offsets, data, width, start = jsonscan.text_buffers(piece)
    selector_bytes = None
    if chosen is not None:
        if chosen.null_count:
            raise ValueError("a selector is null")
        selector_bytes = memoryview(chosen.buffers()[1])[chosen.offset:]
    validity, out_offsets, out_data, unsure = _jsonscan.remainders(
        offsets, data, width, start, count, selector_bytes, patches)
    result = pa.Array.from_buffers(pa.string(), count, [pa.py_buffer(validity), pa.py_buffer(out_offsets),
                                                        pa.py_buffer(out_data)])
    redo = pc.and_(pa.array(memoryview(unsure).cast("B"), pa.uint8()).cast(pa.bool_()), pc.is_valid(piece))
    if not pc.any(redo).as_py():
        return result
    which = [0] * redo.true_count if chosen is None else pc.filter(chosen, redo).to_pylist()
    computed = merged_by_duckdb(pc.filter(piece, redo).to_pylist(), [patches[k] for k in which])
    return pc.replace_with_mask(result, redo, pa.array(computed, pa.string()))


def merged_by_duckdb(records: list[str], patches: list[dict]) -> list[str | None]:
    """``nullif(json_merge_patch(records[i], patches[i]), '{}')`` by DuckDB itself: the rows the
    scanner is unsure of, on a private in-memory DuckDB (the caller's connection may be busy
    running a statement)."""
    with _FALLBACK_LOCK:
        (computed,) = _fallback_connection().execute(
            "SELECT list_transform(range(len(r)), lambda i: nullif(json_merge_patch(r[i + 1], p[i + 1]), '{}')::VARCHAR) "
            "FROM (SELECT ?::VARCHAR[] AS r, ?::VARCHAR[] AS p)",
            [records, [orjson.dumps(patch).decode() for patch in patches]],
        ).fetchone()
    return computed


_FALLBACK_LOCK = threading.Lock()


@functools.cache
def _fallback_connection() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for the rows the scanner leaves (used under ``_FALLBACK_LOCK``)."""
    return duckdb.connect(":memory:")
