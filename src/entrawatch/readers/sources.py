"""Turn the paths a user names into readable byte streams: files, directories, gzip, zip.

Compression is recognised by magic bytes, not by extension (blob downloads often lose them);
members of an archive are named ``archive.zip!member`` so quarantine rows point at the record.
Everything streams: a zip member or a gzip file is decompressed while it is read.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"

#: When walking a directory, files with these suffixes are documentation, not logs, and are skipped
#: (a file named explicitly is always read).
SKIPPED_SUFFIXES = {".md", ".rst", ".html", ".htm", ".py", ".yaml", ".yml", ".toml", ".ini", ".pdf", ".png", ".jpg"}
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class SourceFile:
    """One logical input: its display name (``_SourceFile``) and a way to open it decompressed."""

    name: str
    opener: Callable[[], BinaryIO]
    #: Name used to guess the table (``.gz`` stripped, the member name for archives).
    hint: str


@dataclass(frozen=True)
class UnreadableSource:
    """A path that could not be opened; reported per file and turns the CLI exit code to 1."""

    name: str
    error: str


def _magic(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4)


def _open_gzip(opener: Callable[[], BinaryIO]) -> Callable[[], BinaryIO]:
    def open_() -> BinaryIO:
        return gzip.GzipFile(fileobj=opener(), mode="rb")  # type: ignore[return-value]

    return open_


def _zip_members(path: Path) -> Iterator[SourceFile | UnreadableSource]:
    try:
        archive = zipfile.ZipFile(path)
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile) as err:
        yield UnreadableSource(str(path), f"cannot read zip archive: {err}")
        return
    for member in sorted(names):
        def opener(m: str = member) -> BinaryIO:
            return zipfile.ZipFile(path).open(m)  # type: ignore[return-value]

        try:
            with opener() as handle:
                head = handle.read(2)
        except (OSError, zipfile.BadZipFile, RuntimeError) as err:
            yield UnreadableSource(f"{path}!{member}", f"cannot read archive member: {err}")
            continue
        hint = member[:-3] if member.endswith(".gz") else member
        name = f"{path}!{member}"
        yield SourceFile(name, _open_gzip(opener) if head == GZIP_MAGIC else opener, hint)


def _file(path: Path) -> Iterator[SourceFile | UnreadableSource]:
    try:
        head = _magic(path)
    except OSError as err:
        yield UnreadableSource(str(path), f"cannot open: {err.strerror or err}")
        return
    if head.startswith(ZIP_MAGIC):
        yield from _zip_members(path)
        return

    def opener() -> BinaryIO:
        return path.open("rb")

    if head.startswith(GZIP_MAGIC):
        hint = path.name[:-3] if path.name.endswith(".gz") else path.name
        yield SourceFile(str(path), _open_gzip(opener), hint)
    else:
        yield SourceFile(str(path), opener, path.name)


def iter_sources(paths: Iterable[str | os.PathLike[str]]) -> Iterator[SourceFile | UnreadableSource]:
    """Every readable input under ``paths`` (directories recursively, sorted for determinism)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            children = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                              and p.suffix.lower() not in SKIPPED_SUFFIXES)
            for child in children:
                yield from _file(child)
        elif path.exists():
            yield from _file(path)
        else:
            yield UnreadableSource(str(path), "no such file or directory")


def read_head(source: SourceFile, size: int = 1 << 20) -> bytes:
    """The first ``size`` decompressed bytes (for error messages about whole documents)."""
    with source.opener() as handle:
        return handle.read(size)


def buffered(handle: BinaryIO) -> io.BufferedReader:
    """A peekable reader over ``handle``."""
    if isinstance(handle, io.BufferedReader):
        return handle
    return io.BufferedReader(handle, buffer_size=1 << 20)  # type: ignore[arg-type]
