"""Split a source stream into records and decide its shape.

Framing is the only per-record Python work, and it is kept minimal: JSON lines are handed on as
raw text (DuckDB validates and parses them), JSON documents up to :data:`WHOLE_DOCUMENT_BYTES`
(an Event Hub message, a Graph page) are parsed whole by orjson and larger ones streamed with
ijson (never loaded whole), CSV rows are turned into JSON objects. Records travel in bounded
chunks of (line, index, raw JSON text, aggregated flag).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb
import ijson
import numpy as np
import orjson
import pyarrow as pa

from entrawatch import schema
from entrawatch.readers import jsonscan, mapping
from entrawatch.readers.mapping import DIAG, GRAPH, LA
from entrawatch.readers.sources import SourceFile, buffered, read_head

SHAPES = ("diagnostic", "graph", "loganalytics", "portal")
SHAPE_FAMILY = {"diagnostic": DIAG, "graph": GRAPH, "loganalytics": LA}

#: Chunk bounds: whichever is reached first. ~64 MB of text keeps memory flat at any file size
#: (32 MB cost ~10% more CPU in statement planning; 64 MB adds ~200 MB of peak RSS, measured).
CHUNK_RECORDS = 40_000
CHUNK_BYTES = 64 << 20
#: The first block of a JSON-lines file: small, so that storing (the pipeline's longest step, one
#: chunk at a time) starts while the next blocks are read and prepared, instead of after a whole
#: 64 MB block (measured in docs/ingest.md).
FIRST_BLOCK_BYTES = 8 << 20

INCOMING_SCHEMA = pa.schema([
    pa.field("line", pa.int64()), pa.field("idx", pa.int64()), pa.field("raw", pa.string()),
    pa.field("agg", pa.bool_()),
])


@dataclass
class Reject:
    """A record refused before SQL (bad UTF-8, a broken JSON document, an unknown shape)."""

    line: int | None
    idx: int
    raw: str
    reason: str
    field: str | None = None


_EMPTY = pa.Table.from_arrays([pa.array([], f.type) for f in INCOMING_SCHEMA], schema=INCOMING_SCHEMA)


@dataclass
class RecordCounter:
    """Records seen so far in one JSON-lines file: the index of the next record.

    Blocks are framed ahead in another thread, but only the normalizer knows how many non-blank
    lines a block held, so it numbers the records (``idx``) and advances this counter.
    """

    next_idx: int = 0


@dataclass
class LineBlock:
    """Whole lines of a JSON-lines file, split and stripped by DuckDB rather than per line in Python."""

    data: bytes | bytearray | memoryview
    first_line: int
    counter: RecordCounter


@dataclass
class Chunk:
    """Up to :data:`CHUNK_RECORDS` records as an Arrow table, plus records refused in framing;
    or, for JSON lines, a :class:`LineBlock` of up to :data:`CHUNK_BYTES` that SQL frames itself.
    """

    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    block: LineBlock | None = None


@dataclass
class Framed:
    """A source with its detected shape and a lazy stream of chunks."""

    shape: str
    family: str
    chunks: Iterator[Chunk]


class _Builder:
    """Accumulates records and emits bounded chunks."""

    def __init__(self) -> None:
        self.lines: list[int | None] = []
        self.idxs: list[int] = []
        self.raws: list[str] = []
        self.aggs: list[bool] = []
        self.rejects: list[Reject] = []
        self.size = 0

    def add(self, line: int | None, idx: int, raw: str, agg: bool = False) -> Chunk | None:
        self.lines.append(line)
        self.idxs.append(idx)
        self.raws.append(raw)
        self.aggs.append(agg)
        self.size += len(raw)
        if len(self.raws) >= CHUNK_RECORDS or self.size >= CHUNK_BYTES:
            return self.flush()
        return None

    def reject(self, item: Reject) -> None:
        self.rejects.append(item)

    def flush(self) -> Chunk:
        table = pa.Table.from_arrays(
            [pa.array(self.lines, pa.int64()), pa.array(self.idxs, pa.int64()),
             pa.array(self.raws, pa.string()), pa.array(self.aggs, pa.bool_())],
            schema=INCOMING_SCHEMA,
        )
        chunk = Chunk(table, self.rejects)
        self.__init__()
        return chunk

    @property
    def pending(self) -> bool:
        return bool(self.raws or self.rejects)


# -- shape detection ----------------------------------------------------------------------------

_LA_TABLES = {*schema.SIGNIN_TABLES, schema.AUDIT_TABLE}
_LA_COLUMN_NAMES = {c for t in _LA_TABLES for c in schema.table(t).column_names}


def classify_record(record: object) -> str | None:
    """The shape one record looks like, or None (documented in docs/ingest.md)."""
    if not isinstance(record, dict):
        return None
    if "category" in record and ("properties" in record or "time" in record or "operationName" in record):
        return "diagnostic"
    if "TimeGenerated" in record or record.get("Type") in _LA_TABLES or (
        "Category" in record and "OperationName" in record
    ):
        return "loganalytics"
    if any(k in record for k in ("createdDateTime", "activityDateTime", "@odata.type")) or (
        "id" in record and any(k[:1].islower() for k in record if k != "id")
    ):
        return "graph"
    return None


def _is_portal_name(hint: str) -> bool:
    lowered = hint.lower()
    return any(k in lowered for k in ("interactivesignins", "applicationsignins", "msisignins", "signins_"))


def _resolve(shape: str | None, detected: str | None, hint: str) -> tuple[str, str]:
    """(shape, family) from an explicit ``shape=``, or the detected one (None = unknown)."""
    chosen = shape or detected
    if chosen is None:
        return "unknown", "unknown"
    if chosen == "graph" and shape is None and _is_portal_name(hint):
        chosen = "portal"
    if chosen == "portal":
        return "portal", GRAPH
    return chosen, SHAPE_FAMILY[chosen]


# -- JSON lines ---------------------------------------------------------------------------------

def _json_line_blocks(stream: io.BufferedReader) -> Iterator[Chunk]:
    """Whole-line blocks of about :data:`CHUNK_BYTES` (a longer line makes a longer block), the
    first one of :data:`FIRST_BLOCK_BYTES`.

    A block is a zero-copy view of what was read: the cut line's tail is read again with the next
    block into one buffer, instead of concatenating and slicing 64 MB of bytes (two copies of every
    block of a large file, and their page faults).
    """
    counter = RecordCounter()
    line = 1
    rest: bytes | memoryview = b""
    size = min(FIRST_BLOCK_BYTES, CHUNK_BYTES)
    while True:
        data = _read_after(rest, stream, size)
        size = CHUNK_BYTES
        if len(data) == len(rest):
            if rest:
                yield Chunk(_EMPTY, block=LineBlock(rest, line, counter))
            return
        cut = _after_last_newline(data)
        if cut == 0:
            rest = data
            continue
        yield Chunk(_EMPTY, block=LineBlock(data if cut == len(data) else data[:cut], line, counter))
        line += _newlines(data, cut)
        rest = bytes(data[cut:])


#: Bytes compared at once by :func:`_newlines` (a slice's boolean mask is this large).
_COUNT_SLICE = 4 << 20


def _newlines(data: bytes | bytearray | memoryview, end: int) -> int:
    """``data.count(b"\\n", 0, end)``, faster: CPython counts one byte at a time (49 ms per 64 MB
    block), a vectorised numpy comparison 16 at a time (14 ms, sliced so that the mask stays
    small), the C scan's ``memchr`` loop faster still, without the GIL (measured in docs/ingest.md)."""
    if jsonscan.available():
        return jsonscan.native.newlines(data, end)
    view = np.frombuffer(data, np.uint8, count=end)
    return sum(int(np.count_nonzero(view[at:at + _COUNT_SLICE] == 10)) for at in range(0, end, _COUNT_SLICE))


def _after_last_newline(data: bytes | memoryview) -> int:
    """``data.rfind(b"\\n") + 1`` for any buffer, looking back 1 MB at a time."""
    view = np.frombuffer(data, np.uint8)
    end = len(view)
    while end > 0:
        start = max(0, end - (1 << 20))
        hits = np.flatnonzero(view[start:end] == 10)
        if len(hits):
            return start + int(hits[-1]) + 1
        end = start
    return 0


def _read_after(rest: bytes | memoryview, stream: io.BufferedReader, size: int) -> memoryview:
    """``rest`` followed by up to ``size`` more bytes of ``stream``, read into one buffer.

    The buffer is not zeroed first (``np.empty``): every byte returned was read into it. Zeroing
    64 MB that the read overwrites at once was ~a third of the reading's CPU.
    """
    buffer = np.empty(len(rest) + size, np.uint8)
    view = memoryview(buffer)
    view[: len(rest)] = rest
    filled = len(rest)
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            break
        filled += got
    return view[:filled]


def frame_lines(block: LineBlock) -> Chunk:
    """Frame a block line by line in Python: the fallback when it is not valid UTF-8 as a whole,
    so each bad line is refused with its own line number while the others go on."""
    builder = _Builder()
    idx = block.counter.next_idx
    for number, data in enumerate(io.BytesIO(block.data), start=block.first_line):
        try:
            text = data.decode("utf-8").strip().lstrip("\ufeff")
        except UnicodeDecodeError as err:
            builder.reject(Reject(number, idx, data.decode("utf-8", "replace").strip(), f"invalid UTF-8: {err.reason}"))
            idx += 1
            continue
        if text:
            builder.lines.append(number)
            builder.idxs.append(idx)
            builder.raws.append(text)
            builder.aggs.append(False)
            idx += 1
    block.counter.next_idx = idx
    return builder.flush()


def _mostly_object_lines(head: bytes) -> bool:
    """Whether the lines after a broken first line are JSON objects, one per line.

    Why: a JSON-lines file whose first line is cut or corrupt must not be read as one broken
    document (its records would all end in a single quarantine row holding only the first MB);
    each bad line is refused on its own instead. A document spread over lines has few lines that
    are complete objects (its records end in commas), so at least two sampled lines, and more
    than half of them, must be objects.
    """
    sampled = objects = 0
    for data in head.splitlines()[1:50]:
        if not data.strip():
            continue
        sampled += 1
        try:
            objects += isinstance(orjson.loads(data), dict)
        except orjson.JSONDecodeError:
            continue
    return objects >= 2 and objects * 2 > sampled


def _sample_lines(head: bytes) -> object:
    for data in head.splitlines()[:50]:
        if data.strip():
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
    return None


# -- JSON documents -----------------------------------------------------------------------------

def _document_items(stream: io.BufferedReader, *, keyed: bool = True) -> Iterator[object]:
    """Records of a JSON document: array items, ``records``/``value`` items, or the object itself.

    ``keyed``: let a document of up to :func:`keyed_document_bytes` whose top level has been
    checked be built by ijson's C backend (see :func:`_only_container`); False for shape detection,
    which wants the first record only.
    """
    head = stream.peek(1 << 16)[: 1 << 16].lstrip(_JSON_SPACE)
    if head.startswith(b"["):
        # A top-level array: ijson's C backend builds the items itself, 2.2x faster than items
        # built from Python-level events (42 MB of sign-ins: 0.39 vs 0.85 s, measured).
        yield from ijson.items(stream, "item", use_float=True)
        return
    if keyed and head.startswith(b"{"):
        bound = keyed_document_bytes()
        data = stream.read(bound + 1)
        container = _only_container(data) if len(data) <= bound else None
        if container is not None:
            yield from ijson.items(io.BytesIO(data), f"{container}.item", use_float=True)
            return
        stream = io.BufferedReader(_Replayed(data, stream))
    events = ijson.parse(stream, use_float=True)
    prefix, event, value = next(events)
    if event == "start_array":
        yield from ijson.items(_replay([(prefix, event, value)], events), "item")
        return
    if event != "start_map":
        yield value
        return
    top: dict[str, object] = {}
    found_items = False
    for prefix, event, value in events:
        if prefix == "" and event == "end_map":
            break
        if event != "map_key" or prefix != "":
            continue
        key = value
        sub_prefix, sub_event, sub_value = next(events)
        if key in CONTAINER_KEYS and sub_event == "start_array":
            found_items = True
            for _, e, v in events:
                if e == "end_array":
                    break
                yield _build(e, v, events)
        else:
            top[key] = _build(sub_event, sub_value, events)
    if not found_items:
        yield top


#: What DuckDB raises when it refuses a document's text: its errors, and ``UnicodeDecodeError``
#: from its Python client when the message quotes a cut UTF-8 sequence (found by Hypothesis).
_DUCKDB_REFUSALS = (duckdb.Error, UnicodeDecodeError)

#: Largest ``{...}`` document whose top level DuckDB may read whole first, so that ijson's C backend
#: can build its records. While DuckDB reads it, ~5-6x its size is held for a moment (measured on
#: a 50 MB document: +284 MB peak RSS with the text, +27 MB after), hence a bound well below
#: the ingest's memory budget.
DUCKDB_KEYED_DOCUMENT_BYTES = 32 << 20

#: Largest ``{...}`` document read whole so that ijson's C backend builds its records, when the C
#: scan (``jsonscan.top_level``) checks its top level: the scan holds nothing but the bytes read.
NATIVE_KEYED_DOCUMENT_BYTES = 128 << 20


def keyed_document_bytes() -> int:
    """The largest document :func:`_document_items` reads whole to check its top level."""
    return NATIVE_KEYED_DOCUMENT_BYTES if jsonscan.available() else DUCKDB_KEYED_DOCUMENT_BYTES


def _only_container(data: bytes) -> str | None:
    """The ``records``/``value`` key of the JSON object ``data`` when building that key's array
    items with ijson's C ``items`` gives exactly what the event path gives, else None.

    The event path reads every top-level container array in order (or the whole object when there
    is none). ``items(…, "records.item")`` reads what has the *prefix* ``records.item``. The two
    agree when the top level has exactly one container key, given once, whose value is an array,
    and no key that spells a prefix through it (``"records.item"``, ``"records.x"``): DuckDB lists
    the top-level keys with their repeats, then types the container; or the C scan says both
    (``jsonscan.top_level``, 0.017 vs 0.181 s for 27 MB, holding no copy). DuckDB reads only documents up to
    :data:`DUCKDB_KEYED_DOCUMENT_BYTES` the scan is unsure of. A connection of its own, closed
    after, gives DuckDB's memory back (one kept open held +280 MB after a 50 MB document).
    """
    members = jsonscan.top_level(data)
    if members is not None:
        return _the_container([key for key, _ in members], lambda key: dict(reversed(members))[key])
    if len(data) > DUCKDB_KEYED_DOCUMENT_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    con = duckdb.connect(":memory:")
    try:
        (keys,) = con.execute("SELECT json_keys(?)", [text]).fetchone() or (None,)

        def is_array(key: str) -> bool:
            (kind,) = con.execute("SELECT json_type(?, ?)", [text, f"$.{key}"]).fetchone() or (None,)
            return kind == "ARRAY"

        return _the_container(keys or [], is_array)
    except _DUCKDB_REFUSALS:
        return None
    finally:
        con.close()


def _the_container(keys: list[str], is_array: Callable[[str], bool]) -> str | None:
    """The one container key among a document's top-level ``keys`` (see :func:`_only_container`)."""
    present = [key for key in CONTAINER_KEYS if key in keys]
    if len(present) != 1 or keys.count(present[0]) != 1 or any(k.startswith(present[0] + ".") for k in keys):
        return None
    return present[0] if is_array(present[0]) else None


class _Replayed(io.RawIOBase):
    """``data`` (already read) followed by the rest of ``stream``, as one raw stream."""

    def __init__(self, data: bytes, stream: io.BufferedReader) -> None:
        self._data = memoryview(data)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer, as io.RawIOBase takes
        if self._data:
            n = min(len(buffer), len(self._data))
            buffer[:n] = self._data[:n]
            self._data = self._data[n:]
            return n
        return self._stream.readinto(buffer)


def _replay(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _build(event: str, value: object, events: Iterator) -> object:
    if event not in ("start_map", "start_array"):
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, e, v in events:
        builder.event(e, v)
        if e in ("start_map", "start_array"):
            depth += 1
        elif e in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


#: Largest document re-read whole when the streaming parser gives up (yajl refuses integers
#: beyond 64 bits, which Python's json accepts); beyond this the document is quarantined.
FALLBACK_DOCUMENT_BYTES = 256 << 20


def _whole_document(source: SourceFile) -> tuple[list[object] | None, str]:
    """(records, "") from a full parse with the standard library, or (None, precise reason)."""
    head = read_head(source, FALLBACK_DOCUMENT_BYTES + 1)
    if len(head) > FALLBACK_DOCUMENT_BYTES:
        return None, "malformed JSON document (too large to re-check)"
    try:
        doc = json.loads(head.decode("utf-8"))
    except UnicodeDecodeError as err:
        return None, f"invalid UTF-8: {err.reason}"
    except json.JSONDecodeError as err:
        return None, f"malformed JSON document: {err.msg} at line {err.lineno} column {err.colno}"
    if isinstance(doc, list):
        return doc, ""
    if isinstance(doc, dict):
        for key in CONTAINER_KEYS:
            if isinstance(doc.get(key), list):
                return doc[key], ""
        return [doc], ""
    return [doc], ""


def _dump(item: object) -> str:
    """Record -> JSON text; values orjson refuses (huge integers, NaN) go through json (and may
    then fail validation in SQL, which quarantines the record instead of dropping it)."""
    try:
        return orjson.dumps(item).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(item)


#: Documents up to this size are parsed whole by orjson (C), once, in :func:`frame`, instead of
#: streamed through ijson's Python-level events: 256 Event Hub messages of 1 MB took 15.6-16.0 s
#: to ingest streamed, 6.7-6.9 s whole (measured; docs/ingest.md). Event Hub messages (at most 1 MB) and
#: Graph pages (at most 999 records) are this small; larger documents stream, so memory stays
#: bounded (the Python objects of a document take ~10x its size while its records are dumped).
WHOLE_DOCUMENT_BYTES = 8 << 20

#: The keys whose array value holds a document's records (Event Hub/blob ``records``, Graph ``value``).
CONTAINER_KEYS = ("records", "value")

#: JSON's whitespace (what orjson ignores around a document).
_JSON_SPACE = b" \t\r\n"

_UNPARSED = object()

#: How orjson prints a float of magnitude 1e16 or more: a digit, then ``e+``.
_EXPONENT = re.compile(rb"[0-9]e\+")


@dataclass
class SmallDocument:
    """A document parsed whole, with exactly what streaming it would have given."""

    #: Its records as UTF-8 JSON text, as :func:`_streamed_documents` frames them.
    texts: list[bytes]
    #: Its first record (None when it has none) and first top-level ``records``/``value`` key:
    #: what :func:`_sample_document` reports to shape detection.
    sample: object
    container: str | None


def _small_document(data: bytes, parsed: object = _UNPARSED) -> SmallDocument | None:
    """``data`` (a whole document; ``parsed``: orjson's result for it when already known) parsed
    whole, or None where only streaming is exact.

    Why each check: orjson refuses what the streaming path must handle its own way (malformed
    JSON, NaN, a BOM, lone surrogates); a top-level container key given twice is read twice by the
    streaming parser but once, the last, in a dict; and orjson turns integers beyond 64 bits into
    floats, which it prints with an exponent (``1.2e+29``) where the streaming path kept every
    digit, so a document whose dumped records hold a digit then ``e+`` is streamed (a string
    holding one, ``"1e+30"``, only costs that; ``"Office+365"`` does not). Repeated keys inside
    a record: both ways keep the last, as dicts do.
    """
    if len(data) > WHOLE_DOCUMENT_BYTES:
        return None
    if parsed is _UNPARSED:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    container = None
    if isinstance(parsed, dict) and any(key in parsed for key in CONTAINER_KEYS):
        if _repeats_a_container(data, parsed) is not False:
            return None
        # Without repeats, dict order is the text order of these keys.
        found = [key for key in parsed if key in CONTAINER_KEYS and isinstance(parsed[key], list)]
        items = [item for key in found for item in parsed[key]] if found else [parsed]
        if data[:4096].lstrip().startswith(b"{"):  # as _sample_document looks for it
            container = next(key for key in parsed if key in CONTAINER_KEYS)
    else:
        items = parsed if isinstance(parsed, list) else [parsed]
    texts = [orjson.dumps(item) for item in items]
    if any(b"e+" in text and _EXPONENT.search(text) for text in texts) or sum(map(len, texts)) >= CHUNK_BYTES:
        return None  # (the second: one chunk, as _small_chunks assumes; numbers may grow when dumped)
    return SmallDocument(texts, items[0] if items else None, container)


def _repeats_a_container(data: bytes, doc: dict) -> bool | None:
    """Whether a ``records``/``value`` key of ``doc`` appears more than once at the top level of
    ``data`` (None: DuckDB could not tell).

    The C scan lists the top-level keys when it is built and sure (0.55 ms per MB, UTF-8 check
    included, against 1.31 ms to count the literal keys in CPython, measured). Otherwise: such a key can only be repeated by being written
    twice, literally or with ``\\u`` escapes; so when each is written at most once and the text has no
    ``\\u``, no key is repeated. Otherwise DuckDB lists the top-level keys (``value`` is also a key
    inside most diagnostic records).
    """
    present = [key for key in CONTAINER_KEYS if key in doc]
    members = jsonscan.top_level(data)
    if members is not None:
        keys = [key for key, _ in members]
        return any(keys.count(key) > 1 for key in present)
    if b"\\u" not in data and all(data.count(b'"' + key.encode() + b'"') <= 1 for key in present):
        return False
    keys = _top_level_keys(data)
    return None if keys is None else any(keys.count(key) > 1 for key in present)


_KEYS_LOCK = threading.Lock()


@functools.cache
def _keys_connection() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for :func:`_top_level_keys` (used under ``_KEYS_LOCK``)."""
    return duckdb.connect(":memory:")


def _top_level_keys(data: bytes) -> list[str] | None:
    """The top-level keys of a JSON object in order, repeats included (DuckDB's yyjson keeps them;
    Python dicts do not), or None if DuckDB refuses the text. Its caller has asked the C scan first."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    with _KEYS_LOCK:
        try:
            row = _keys_connection().execute("SELECT json_keys(?)", [text]).fetchone()
        except _DUCKDB_REFUSALS:
            return None
    return None if row is None else row[0]


def _small_chunks(document: SmallDocument) -> Iterator[Chunk]:
    """The chunks :class:`_Builder` would make of these records (at most :data:`CHUNK_RECORDS`
    each; their text is below :data:`CHUNK_BYTES`), built from orjson's UTF-8 bytes in one call
    rather than decoded to ``str`` and encoded again record by record."""
    texts = document.texts
    for start in range(0, len(texts), CHUNK_RECORDS):
        part = texts[start:start + CHUNK_RECORDS]
        yield Chunk(pa.Table.from_arrays([
            pa.nulls(len(part), pa.int64()), pa.array(range(start, start + len(part)), pa.int64()),
            pa.array(part, pa.binary()).cast(pa.string()), pa.repeat(False, len(part)),
        ], schema=INCOMING_SCHEMA))


def _streamed_documents(source: SourceFile, stream: io.BufferedReader, builder: _Builder) -> Iterator[Chunk]:
    idx = 0
    items = _document_items(stream)
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError):
            records, reason = _whole_document(source)
            if records is None:
                raw = read_head(source).decode("utf-8", "replace")
                builder.reject(Reject(None, idx, raw, f"{reason} (after {idx} complete records)"))
                break
            for item in records[idx:]:
                chunk = builder.add(None, idx, _dump(item))
                idx += 1
                if chunk:
                    yield chunk
            break
        chunk = builder.add(None, idx, _dump(item))
        idx += 1
        if chunk:
            yield chunk


def _sample_document(source: SourceFile) -> tuple[object, str | None]:
    """(first record, container key) of a document, without reading more than needed."""
    with source.opener() as handle:
        stream = buffered(handle)
        try:
            container = None
            if stream.peek(4096)[:4096].lstrip().startswith(b"{"):
                # Depth, not ijson's prefix: the keys of an object under the key "" also have prefix "".
                depth = 0
                for _, event, value in ijson.parse(stream):
                    if event in ("start_map", "start_array"):
                        depth += 1
                    elif event in ("end_map", "end_array"):
                        depth -= 1
                        if depth == 0:
                            break
                    elif event == "map_key" and depth == 1 and value in CONTAINER_KEYS:
                        container = value
                        break
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError):
            return None, None
    with source.opener() as handle:
        try:
            return next(_document_items(buffered(handle), keyed=False)), container
        except StopIteration:
            return None, container
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError):
            pass
    # As framing does (_streamed_documents): yajl refuses integers beyond 64 bits, Python's json not.
    records, _ = _whole_document(source)
    return (records[0] if records else None), container


# -- CSV ----------------------------------------------------------------------------------------

def _la_header(header: str) -> str:
    text = header.strip().lstrip("\ufeff")
    return text[: -len(" [UTC]")].strip() if text.endswith("[UTC]") else text


def _portal_row(headers: list[str], row: list[str]) -> dict[str, object]:
    """A portal download row -> LA column names; unknown headers keep their names (-> ``_Extra``)."""
    record: dict[str, object] = {}
    device: dict[str, object] = {}
    msi: dict[str, object] = {}
    for header, value in zip(headers, row, strict=False):
        if value == "":
            continue
        key = mapping.normalise_header(header)
        if key == "location":
            parts = [p.strip() for p in value.split(",")]
            record["LocationDetails"] = {
                "city": parts[0] if len(parts) > 2 else "", "state": parts[1] if len(parts) > 2 else "",
                "countryOrRegion": parts[-1],
            }
            record["Location"] = parts[-1]
        elif key in ("device id", "browser", "operating system", "compliant", "managed", "join type"):
            name = {"device id": "deviceId", "operating system": "operatingSystem", "compliant": "isCompliant",
                    "managed": "isManaged", "join type": "trustType"}.get(key, key)
            device[name] = value
        elif key in ("managed identity type", "associated resource id", "federated token id", "federated token issuer"):
            name = {"managed identity type": "msiType", "associated resource id": "associatedResourceId",
                    "federated token id": "federatedTokenId", "federated token issuer": "federatedTokenIssuer"}[key]
            msi[name] = value
        elif key in mapping.PORTAL_HEADERS and mapping.PORTAL_HEADERS[key] not in record:
            record[mapping.PORTAL_HEADERS[key]] = value
        else:
            # Unknown headers go to _Extra under their own name; one that equals an LA column
            # ("Status": Success/Failure is not LA's Status object) is renamed so it cannot collide.
            name = header.strip()
            if name in _LA_COLUMN_NAMES or name in record:
                name = f"{name} (portal)"
            record[name] = value
    if device:
        record["DeviceDetail"] = device
    if msi:
        record["ManagedServiceIdentity"] = msi
    return record


def _csv(stream: io.BufferedReader, shape: str, builder: _Builder) -> Iterator[Chunk]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    try:
        headers = next(reader)
    except StopIteration:
        return
    agg = any(mapping.normalise_header(h) in mapping.AGGREGATE_MARKERS for h in headers)
    la_headers = [_la_header(h) for h in headers]
    idx = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if shape == "portal":
            record = _portal_row(headers, row)
        else:
            record = {h: v for h, v in zip(la_headers, row, strict=False) if v != ""}
        if len(row) > len(headers):
            record["_ExtraCells"] = row[len(headers):]
        chunk = builder.add(reader.line_num, idx, orjson.dumps(record).decode(), agg)
        idx += 1
        if chunk:
            yield chunk


def _csv_shape(head: bytes) -> str | None:
    first = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
    if not first:
        return None
    headers = {mapping.normalise_header(h) for h in next(csv.reader(first))}
    if headers & mapping.PORTAL_MARKERS:
        return "portal"
    if "timegenerated" in headers or "timegenerated [utc]" in headers or "type" in headers or "id" in headers:
        return "loganalytics"
    return None


# -- entry point --------------------------------------------------------------------------------

def frame(source: SourceFile, shape: str | None = None) -> Framed:
    """Detect the shape of ``source`` (unless ``shape`` is given) and stream its records."""
    small: SmallDocument | None = None
    with source.opener() as handle:
        stream = buffered(handle)
        head = stream.readline(16 << 20)
        while head and not head.strip():
            head = stream.readline(16 << 20)
        head += stream.read(1 << 16)
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        kind: str
        detected: str | None = None
        if stripped.startswith(b"{") or stripped.startswith(b"["):
            first_line = stripped.split(b"\n", 1)[0]
            try:
                first = orjson.loads(first_line)
            except orjson.JSONDecodeError:
                first = None
            if (isinstance(first, dict) and not any(isinstance(first.get(k), list) for k in CONTAINER_KEYS)) or (
                    first is None and _mostly_object_lines(head)):
                kind = "lines"
                detected = classify_record(first) if first is not None else None
                if detected is None:
                    detected = classify_record(_sample_lines(head))
            else:
                kind = "document"
                if len(head) <= WHOLE_DOCUMENT_BYTES:
                    data = head + stream.read(WHOLE_DOCUMENT_BYTES + 1 - len(head))
                    # A one-line document was parsed above already: do not parse it twice.
                    one_line = first is not None and data.strip(_JSON_SPACE) == first_line.strip(_JSON_SPACE)
                    small = _small_document(data, first if one_line else _UNPARSED)
                if small is not None:
                    sample, container = small.sample, small.container
                else:
                    sample, container = _sample_document(source)
                detected = classify_record(sample)
                if detected is None and container == "records":
                    detected = "diagnostic"
                elif detected is None and container == "value":
                    detected = "graph"
        else:
            kind = "csv"
            detected = _csv_shape(head)
            if detected is None and shape is None:
                kind = "lines"  # not a CSV we know: every line is quarantined as an unknown shape
    resolved_shape, family = _resolve(shape, detected, source.hint)
    if kind == "csv" and family == GRAPH:
        family = LA  # portal CSV rows are renamed into LA columns
    if small is not None:
        return Framed(resolved_shape, family, _small_chunks(small))
    return Framed(resolved_shape, family, _chunks(source, kind, resolved_shape, family))


def _chunks(source: SourceFile, kind: str, shape: str, family: str) -> Iterator[Chunk]:
    builder = _Builder()
    with source.opener() as handle:
        stream = buffered(handle)
        if kind == "lines":
            yield from _json_line_blocks(stream)
        elif kind == "document":
            yield from _streamed_documents(source, stream, builder)
        else:
            yield from _csv(stream, shape, builder)
    if builder.pending:
        yield builder.flush()
