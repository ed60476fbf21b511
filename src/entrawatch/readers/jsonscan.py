"""The C scans of JSON text (``readers/_jsonscan.c``), when they are built and not turned off.

The extension is optional (``setup.py``): without a C compiler the install still succeeds and every
caller falls back to DuckDB, to the same results. ``ENTRAWATCH_NATIVE=0`` turns the scans off, for
a comparison or should one ever be suspected.
"""

from __future__ import annotations

import os

import pyarrow as pa

try:
    from entrawatch.readers import _jsonscan as native
except ImportError:  # built without a C compiler
    native = None

__all__ = ["available", "native", "plain_strings", "text_buffers", "top_level"]


def available() -> bool:
    """Whether the C scans are used: built, and not turned off by ``ENTRAWATCH_NATIVE=0``."""
    return native is not None and os.environ.get("ENTRAWATCH_NATIVE", "1") != "0"


def top_level(data: bytes | bytearray) -> list[tuple[str, bool]] | None:
    """The top-level members of the JSON object ``data`` as ``[(key, value_is_an_array)]``, in order
    with repeats (what DuckDB's ``json_keys`` and ``json_type`` say), or None: the scan is not
    available, the text is not valid UTF-8, or the scan is unsure (see ``_jsonscan.top_level``).

    UTF-8 is checked by Arrow over the bytes themselves: decoding them to ``str`` would copy the
    document, up to 4x its size.
    """
    if not available():
        return None
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return None
    return native.top_level(data)


def plain_strings(array: pa.Array) -> pa.Array:
    """``array`` as Arrow strings whose buffers the scans read (32- or 64-bit offsets)."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    return array.cast(pa.large_string())


def text_buffers(array: pa.Array) -> tuple[pa.Buffer, pa.Buffer | bytes, int, int]:
    """What the scans read of a string array: (offsets, data, offset width in bytes, first row).

    An all-null array may come without buffers: it reads as empty strings (zero offsets).
    """
    array = plain_strings(array)
    _, offsets, data = array.buffers()
    if offsets is None:
        return pa.py_buffer(bytes(8 * (array.offset + len(array) + 1))), b"", 8, array.offset
    return offsets, data if data is not None else b"", 8 if pa.types.is_large_string(array.type) else 4, array.offset
