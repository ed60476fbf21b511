"""Which ids an ingest has stored, remembered as hashes, so that most chunks need no look-up.

Storing a chunk must skip the rows whose ``Id`` is already in the table (re-ingest adds nothing;
the first occurrence wins). The store's ``INSERT`` finds them with the chunk's ids as the small
side of a semi join, but DuckDB still reads every stored ``Id`` of the table to probe it: a cost
that grows with the table, so an ingest grows quadratically with its size (measured at 4 GB: the
look-ups were ~12 % of the wall time, see docs/ingest.md, Session 9).

Most ingests write into tables that were empty when they began (a fresh warehouse, a new table).
Then every id in the table was stored by this ingest, and a 64-bit hash of each is enough to
prove that a chunk's ids are new: when none of its hashes was seen, the plain ``INSERT`` is exact.
When one was (a real repeat, or a hash collision), or the table had rows before, the store does
the look-up as before. Nothing is guessed: a hash seen sends the chunk to the exact path, and a
hash not seen cannot belong to a stored id. A rolled-back transaction forgets everything (its
rows are gone, but so is the proof that the table held only ours).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from entrawatch.readers import jsonscan
from entrawatch.readers.jsonscan import native as _jsonscan

__all__ = ["MAX_HASHES", "StoredIds", "id_hashes"]

#: Hashes remembered at most (8 bytes each, 64 MB): ~16 GB of diagnostic records. Beyond, every
#: chunk is looked up again, so peak RSS stays bounded whatever the input's size.
MAX_HASHES = 8_000_000


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes of ``ids`` (non-null strings), by the C scan."""
    if _jsonscan is None:
        raise RuntimeError("entrawatch.readers._jsonscan is not built (see setup.py)")
    array = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if not len(array):
        return np.zeros(0, np.uint64)
    offsets, data, width, start = jsonscan.text_buffers(array)
    return np.frombuffer(_jsonscan.hashes(offsets, data, width, start, len(array)), np.uint64)


class StoredIds:
    """Per table: the sorted hashes of the ids this ingest stored, if the table was empty before it.

    Kept as a few sorted runs, merged like a binary counter (a run is merged into the one before
    when it is as large), so adding a chunk costs about its size times the log of the number of
    chunks, and a look-up a binary search per run: 8 bytes per stored id (39 MB at 10 GB).
    """

    def __init__(self, limit: int = MAX_HASHES) -> None:
        #: table -> sorted runs of hashes; a table absent was not empty when first stored into.
        self._runs: dict[str, list[np.ndarray]] = {}
        self._checked: set[str] = set()
        self._limit = limit
        self._count = 0

    def track(self, table: str, empty: bool) -> None:
        """Record, at this ingest's first store into ``table``, whether it was empty then."""
        self._checked.add(table)
        if empty:
            self._runs[table] = []

    def checked(self, table: str) -> bool:
        return table in self._checked

    def proves_new(self, table: str, hashes: np.ndarray) -> bool:
        """Whether no id with these hashes can be in ``table``: it held only this ingest's ids,
        and none of theirs hashes alike."""
        runs = self._runs.get(table)
        if runs is None:
            return False
        hashes = np.sort(hashes)  # sorted needles: the binary searches walk the runs in order
        for run in runs:
            at = np.searchsorted(run, hashes)
            at[at == len(run)] = 0
            if len(run) and np.any(run[at] == hashes):
                return False
        return True

    def add(self, table: str, hashes: np.ndarray) -> None:
        """Remember that ids with these hashes are now in ``table`` (a superset is harmless)."""
        runs = self._runs.get(table)
        if runs is None or not len(hashes):
            return
        self._count += len(hashes)
        if self._count > self._limit:
            self.forget()  # memory stays bounded whatever the input's size; look-ups resume
            return
        runs.append(np.sort(hashes))
        while len(runs) > 1 and len(runs[-1]) >= len(runs[-2]):
            # two sorted runs: the stable sort (timsort) merges them in linear time
            last = runs.pop()
            runs[-1] = np.sort(np.concatenate([runs[-1], last]), kind="stable")

    def forget(self) -> None:
        """After a rollback (or past the limit): no table is proven to hold only this ingest's ids
        any more."""
        self._runs.clear()
        self._count = 0
