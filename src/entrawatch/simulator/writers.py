"""File layouts of the four source shapes, written incrementally in time order with bounded memory.

Each writer receives events already sorted by ``TimeGenerated`` (one hour batch at a time) and keeps at most
one Graph page (``page_size`` objects) per stream in memory. Files are opened ``wb`` the first time this run
touches them and ``ab`` afterwards, so a re-run into the same directory rewrites rather than appends and the
bytes stay identical for the same seed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import BinaryIO

import orjson

from entrawatch.errors import SimulatorError
from entrawatch.simulator import shapes
from entrawatch.simulator.events import AUDIT, Event
from entrawatch.simulator.util import US_PER_HOUR, from_us

FORMATS = ("diagnostic", "graph", "loganalytics", "portal")
_BUFFER = 1 << 20
_NL = b"\n"


class _Discard:
    """A write sink that keeps nothing (``simulate(..., discard=True)``: benchmarks without the disk)."""

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        pass


class _Files:
    """Open handles keyed by path; first open truncates, later opens append."""

    def __init__(self, discard: bool = False) -> None:
        self.touched: set[Path] = set()
        self.open: dict[Path, BinaryIO] = {}
        self.discard = discard

    def get(self, path: Path) -> BinaryIO:
        handle = self.open.get(path)
        if handle is None and self.discard:
            handle = self.open[path] = _Discard()  # type: ignore[assignment]
            self.touched.add(path)
        elif handle is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "ab" if path in self.touched else "wb", buffering=_BUFFER)  # noqa: SIM115
            self.touched.add(path)
            self.open[path] = handle
        return handle

    def close_all(self) -> None:
        for handle in self.open.values():
            handle.close()
        self.open.clear()

    def paths(self) -> list[Path]:
        return sorted(self.touched)


class Writer:
    def __init__(self, out_dir: Path, tenant_id: str, workspace_id: str, start_us: int, end_us: int,
                 discard: bool = False) -> None:
        self.out_dir = out_dir
        self.tenant_id = tenant_id
        self.workspace_id = workspace_id
        self.start_us = start_us
        self.end_us = end_us
        self.files = _Files(discard)
        self.discard = discard
        self.bytes = 0  # log bytes produced (also counted when discarding)

    def write_batch(self, batch: list[Event]) -> None:
        raise NotImplementedError

    def close(self) -> list[Path]:
        self.files.close_all()
        return self.files.paths()


class DiagnosticWriter(Writer):
    """``insights-logs-<category>/tenantId=<id>/y=/m=/d=/h=/m=00/PT1H.json``, JSON lines, by TimeGenerated hour."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._hour = None
        self._dirs: dict[tuple[str, int], Path] = {}

    def _path(self, table: str, hour: int) -> Path:
        key = (table, hour)
        path = self._dirs.get(key)
        if path is None:
            moment = from_us(hour * US_PER_HOUR)
            category = shapes.CATEGORY[table].lower()
            path = (self.out_dir / f"insights-logs-{category}" / f"tenantId={self.tenant_id}" /
                    f"y={moment:%Y}" / f"m={moment:%m}" / f"d={moment:%d}" / f"h={moment:%H}" / "m=00" / "PT1H.json")
            self._dirs[key] = path
        return path

    def write_batch(self, batch: list[Event]) -> None:
        dumps = orjson.dumps
        tenant = self.tenant_id
        for event in batch:
            hour = event.generated // US_PER_HOUR
            if hour != self._hour:
                self.files.close_all()
                self._dirs.clear()
                self._hour = hour
            line = dumps(shapes.diagnostic(event, tenant)) + _NL
            self.bytes += len(line)
            self.files.get(self._path(event.table, hour)).write(line)


class GraphWriter(Writer):
    """Graph list responses: ``graph/<stream>/page-000001.json`` with ``@odata.nextLink`` chaining the pages."""

    #: The ``signInEventTypes`` value each sign-in stream's pages are filtered on (also its folder name).
    FILTERS = shapes.EVENT_TYPE
    STREAMS = {**{table: f"signIns-{kind}" for table, kind in FILTERS.items()}, AUDIT: "directoryAudits"}

    def __init__(self, *args, page_size: int = 1000, folder: str = "graph", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.page_size = page_size
        self.folder = folder
        self.pending: dict[str, list[bytes]] = {}
        self.page_no: dict[str, int] = {}

    def _base(self, table: str) -> str:
        if table == AUDIT:
            return "https://graph.microsoft.com/beta/auditLogs/directoryAudits"
        return ("https://graph.microsoft.com/beta/auditLogs/signIns?$filter=signInEventTypes/any(t:%20t%20eq%20%27"
                f"{self.FILTERS[table]}%27)")

    def _flush(self, table: str, last: bool) -> None:
        items = self.pending.get(table)
        if not items:
            return
        number = self.page_no.get(table, 0) + 1
        self.page_no[table] = number
        context = ("https://graph.microsoft.com/beta/$metadata#auditLogs/directoryAudits" if table == AUDIT else
                   "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns")
        head = {"@odata.context": context}
        if not last:
            sep = "&" if "?" in self._base(table) else "?"
            head["@odata.nextLink"] = f"{self._base(table)}{sep}$top={self.page_size}&$skiptoken=page{number + 1:06d}"
        path = self.out_dir / self.folder / self.STREAMS[table] / f"page-{number:06d}.json"
        if not self.discard:
            path.parent.mkdir(parents=True, exist_ok=True)
        with (_Discard() if self.discard else open(path, "wb", buffering=_BUFFER)) as handle:
            body = orjson.dumps(head)[:-1] + b',"value":[' + b",\n".join(items) + b"]}\n"
            self.bytes += len(body)
            handle.write(body)
        self.files.touched.add(path)
        self.pending[table] = []

    def write_batch(self, batch: list[Event]) -> None:
        dumps = orjson.dumps
        for event in batch:
            items = self.pending.setdefault(event.table, [])
            if len(items) >= self.page_size:
                self._flush(event.table, last=False)
                items = self.pending[event.table]
            items.append(dumps(shapes.graph(event)))

    def close(self) -> list[Path]:
        for table in list(self.pending):
            self._flush(table, last=True)
        return super().close()


class LogAnalyticsWriter(Writer):
    """``loganalytics/<Table>.json``: one Log Analytics row per line, exact column names."""

    def write_batch(self, batch: list[Event]) -> None:
        dumps = orjson.dumps
        tenant, workspace = self.tenant_id, self.workspace_id
        folder = self.out_dir / "loganalytics"
        for event in batch:
            line = dumps(shapes.log_analytics(event, tenant, workspace)) + _NL
            self.bytes += len(line)
            self.files.get(folder / f"{event.table}.json").write(line)


class PortalWriter(Writer):
    """``portal/InteractiveSignIns_<from>_<to>.csv`` etc.; audit has no portal CSV, so it is Graph JSON pages."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        span = f"{from_us(self.start_us):%Y-%m-%d}_{from_us(self.end_us - 1):%Y-%m-%d}"
        self.span = span
        self.audit = GraphWriter(*args, folder="portal", page_size=5000, **kwargs)
        self.audit.STREAMS = dict(GraphWriter.STREAMS, **{AUDIT: f"AuditLogs_{span}"})
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\r\n")

    def write_batch(self, batch: list[Event]) -> None:
        audits = [e for e in batch if e.table == AUDIT]
        if audits:
            self.audit.write_batch(audits)
        text, writer = self._text, self._csv
        for event in batch:
            if event.table == AUDIT:
                continue
            path = self.out_dir / "portal" / f"{shapes.PORTAL_FILES[event.table]}_{self.span}.csv"
            fresh = path not in self.files.touched
            handle = self.files.get(path)
            text.seek(0)
            text.truncate()
            if fresh:
                handle.write(b"\xef\xbb\xbf")  # the portal writes UTF-8 with a byte-order mark
                writer.writerow(shapes.PORTAL_HEADERS[event.table])
            writer.writerow(shapes.portal_row(event))
            data = text.getvalue().encode("utf-8")
            self.bytes += len(data)
            handle.write(data)

    def close(self) -> list[Path]:
        paths = self.audit.close()
        self.bytes += self.audit.bytes
        return sorted(set(paths) | set(super().close()))


def make_writer(fmt: str, out_dir: Path, tenant_id: str, workspace_id: str, start_us: int, end_us: int,
                discard: bool = False) -> Writer:
    classes = {"diagnostic": DiagnosticWriter, "graph": GraphWriter, "loganalytics": LogAnalyticsWriter,
               "portal": PortalWriter}
    if fmt not in classes:
        raise SimulatorError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return classes[fmt](out_dir, tenant_id, workspace_id, start_us, end_us, discard=discard)
