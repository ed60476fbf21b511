"""Prepare chunks on several DuckDB connections at once; store them in file order.

One DuckDB statement over a ~64 MB chunk runs on one core: a chunk (~16k records of ~4 KB) is far
below DuckDB's parallel-scan unit, a 122,880-row group. So the ingest uses the machine's cores the
other way round: ``workers`` connections (cursors of the warehouse's database) each *prepare* a
chunk — frame, stage, normalize into Arrow, the JSON-heavy ~80% of the work — while *stores*
(the ``Id`` check and the append, on the warehouse's connection inside the file's transaction)
run one at a time in chunk order, so the first occurrence of an ``Id`` still wins and record
indexes still count from the start of the file. Memory stays bounded: at most ``workers`` chunks
are in flight, plus the one being read.

Chunks are pushed (:meth:`Pipeline.push`) from one file or several consecutive ones in a run: the
next file's first chunks are prepared while the last of the one before are stored (``readers._Files``).
Small files are batched instead (:meth:`Pipeline.submit_batch`): a batch is cut into ``workers``
runs of files prepared at once, and stored while the next batch is framed and prepared.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from entrawatch.readers import framing
from entrawatch.readers.framing import Chunk
from entrawatch.readers.normalize import ChunkCounts, Normalizer, Part, Prepared, block_text


class _Aborted(Exception):
    """An earlier chunk failed; later ones must not commit."""


class _Turns:
    """Hands out commit turns in sequence order; a failure stops every later turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._failed = False

    def take(self, seq: int) -> None:
        with self._cond:
            while self._next != seq and not self._failed:
                self._cond.wait()
            if self._failed:
                raise _Aborted

    def give_back(self, ok: bool) -> None:
        with self._cond:
            self._next += 1
            self._failed = self._failed or not ok
            self._cond.notify_all()

    def fail(self) -> None:
        with self._cond:
            self._failed = True
            self._cond.notify_all()


def _split(parts: list[Part], runs: int) -> list[list[Part]]:
    """``parts`` cut into at most ``runs`` runs of consecutive parts of about equal size."""
    total = sum(p.size for p in parts) or 1
    out: list[list[Part]] = [[]]
    done = 0
    for part in parts:
        if out[-1] and done >= total * len(out) / runs and len(out) < runs:
            out.append([])
        out[-1].append(part)
        done += part.size
    return out


@dataclass
class SubmittedBatch:
    """A batch of small files being prepared (see :meth:`Pipeline.submit_batch`)."""

    runs: list[list[Part]]
    futures: list[Future]
    ctx: dict

    def wait(self) -> None:
        """Wait until no connection is still preparing it."""
        for future in self.futures:
            future.exception()


class Pipeline:
    """Runs chunks of one ingest through ``workers`` connections; see the module docstring."""

    def __init__(self, normalizer: Normalizer, workers: int) -> None:
        self.normalizer = normalizer
        self.workers = workers
        normalizer.one_thread_per_statement()
        self._cursors: queue.Queue = queue.Queue()
        self._opened = [normalizer.cursor() for _ in range(workers)]
        for con in self._opened:
            self._cursors.put(con)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="entrawatch-ingest")
        self.begin()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for con in self._opened:
            con.close()

    def begin(self) -> None:
        """Start a run: chunks pushed from now on (of one file or several consecutive ones) are
        stored in the order they are pushed."""
        self._turns = _Turns()
        self._seq = itertools.count()
        self._pending: deque[tuple[Future, object]] = deque()

    def push(self, chunk: Chunk, ctx: dict, tag: object) -> list[tuple[object, ChunkCounts]]:
        """Submit a chunk (``ctx``: its file's context); the ``(tag, counts)`` of chunks stored
        meanwhile, in push order. At most ``workers`` chunks stay in flight: beyond, this waits."""
        self._pending.append((self._pool.submit(self._job, chunk, next(self._seq), self._turns, ctx), tag))
        done = []
        while len(self._pending) > self.workers:
            future, done_tag = self._pending.popleft()
            done.append((done_tag, future.result()))
        return done

    def drain(self) -> list[tuple[object, ChunkCounts]]:
        """Wait until every pushed chunk is stored; their ``(tag, counts)`` in push order."""
        done = []
        while self._pending:
            future, tag = self._pending.popleft()
            done.append((tag, future.result()))
        return done

    def abort(self) -> None:
        """After a failure: no later chunk may store, and no connection may still be busy."""
        self._turns.fail()
        pending, self._pending = self._pending, deque()
        for future, _ in pending:
            future.exception()

    def submit_batch(self, parts: list[Part], ctx: dict) -> SubmittedBatch:
        """Start preparing a batch of small files (one chunk each: all line blocks, or all chunks of records).

        The batch is cut into ``workers`` runs of consecutive files of about equal size, each
        prepared on its own connection at once (one stage and one normalize statement per table
        for the run). :meth:`store_batch` stores them; meanwhile the caller may frame the next
        files and submit the next batch. ``ctx``: what the files share (family, forced table,
        ingested-at); each part names its own file.
        """
        runs = _split(parts, self.workers)
        return SubmittedBatch(runs, [self._pool.submit(self._prepare_run, run, ctx) for run in runs], ctx)

    def store_batch(self, batch: SubmittedBatch) -> Iterator[ChunkCounts]:
        """Counts per file of a submitted batch, its files stored one after another, in order."""
        try:
            for run, future in zip(batch.runs, batch.futures, strict=True):
                yield from self.normalizer.commit_batch(future.result(), run, forced_table=batch.ctx["forced_table"],
                                                        ingested_at=batch.ctx["ingested_at"])
        finally:
            batch.wait()

    def _prepare_run(self, parts: list[Part], ctx: dict) -> list[Prepared | None]:
        con = self._cursors.get()
        try:
            return self.normalizer.prepare(con, parts, family=ctx["family"], forced_table=ctx["forced_table"],
                                           ingested_at=ctx["ingested_at"])
        finally:
            self._cursors.put(con)

    def _prepare(self, con: duckdb.DuckDBPyConnection, chunk: Chunk, text: pa.Array | None,
                 ctx: dict) -> Prepared | None:
        """Prepare one chunk of the file that ``ctx`` describes."""
        (prepared,) = self.normalizer.prepare(
            con, [Part(chunk, text, ctx["source_file"], ctx["shape"], ctx["name_table"])],
            family=ctx["family"], forced_table=ctx["forced_table"], ingested_at=ctx["ingested_at"])
        return prepared

    def _job(self, chunk: Chunk, seq: int, turns: _Turns, ctx: dict) -> ChunkCounts:
        con = self._cursors.get()
        try:
            # Blocks that are not valid UTF-8 as a whole are framed line by line in their turn:
            # the Python framing numbers records from the file's running count.
            text = block_text(chunk, ctx["family"])
            fallback = chunk.block is not None and text is None
            prepared, error = None, None
            if not fallback:
                try:
                    prepared = self._prepare(con, chunk, text, ctx)
                except Exception as err:  # noqa: BLE001 - raised in turn, so the chunks before still commit
                    error = err
            turns.take(seq)
            try:
                if error is not None:
                    raise error
                if fallback:
                    chunk = framing.frame_lines(chunk.block)
                    prepared = self._prepare(con, chunk, None, ctx)
                counts = self.normalizer.commit(prepared, chunk, **ctx)
            except BaseException:
                turns.give_back(ok=False)
                raise
            turns.give_back(ok=True)
            return counts
        finally:
            self._cursors.put(con)
