"""Feed the C scans of JSON text (``readers/_jsonscan.c``) mutated input under AddressSanitizer.

The scans read attacker-controlled text in C. The Hypothesis tests (tests/readers/test_remainder.py,
test_jsonscan.py) check what they answer; this script checks that no input makes them read or write
out of bounds: it cuts the dataset's diagnostic records anywhere, deletes spans and inserts structural
bytes, and calls ``remainders`` and ``columns`` (with ``_Extra``, through each table's program of
readers/rowscan.py) on each, whole and halved, with every patch of every table; ``top_level`` on
each and on a ``{"records":[...]}`` document of a few of them; ``line_records``, ``top_text`` and
``newlines`` on a JSON-lines block of mutated records.

Build the extension with the sanitizers in place of the normal one, run, then rebuild::

    SO=$(ls src/entrawatch/readers/_jsonscan*.so)
    INC=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    gcc -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -I$INC \\
        src/entrawatch/readers/_jsonscan.c -o $SO
    LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) \\
        ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \\
        .venv/bin/python scripts/fuzz_jsonscan.py --cases 20000
    .venv/bin/pip install -q -e .    # the normal build again

Without the sanitizers it still runs (a crash is still a failure), only less sharply.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import pyarrow as pa

from entrawatch import schema
from entrawatch.readers import _jsonscan, mapping, rowscan, sqlgen

_STRUCTURAL = b'{}[]",:\\u0123456789.eE-+ \n\t'


def _records(datasets: Path) -> list[bytes]:
    lines = []
    for path in sorted((datasets / "datadog-forwarder").glob("*.json")):
        lines += [line for line in path.read_bytes().splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"no records under {datasets}")
    return lines


def _mutate(rng: random.Random, line: bytes) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.3:
            del data[at:at + rng.randint(1, 50)]
        elif choice < 0.6:
            data[at:at] = bytes([rng.choice(_STRUCTURAL)])
        elif choice < 0.8:
            data[at:at] = data[rng.randrange(len(data) + 1):][: rng.randint(1, 80)]
        else:
            del data[at:]
    return bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = _records(args.datasets)
    tables = (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)
    patch_sets = [list(sqlgen.extra_patches(mapping.DIAG, table)) for table in tables]
    programs = [rowscan.program(mapping.DIAG, table) for table in tables]
    unsure_rows = rows = answered = documents = sure_rows = blocks = 0
    for _ in range(args.cases):
        original = rng.choice(lines)
        text = _mutate(rng, original).decode("utf-8", "replace")
        array = pa.array([text, text[: len(text) // 2], original.decode("utf-8", "replace")])
        _, offsets, data = array.buffers()
        patches = rng.choice(patch_sets)
        selectors = bytes(rng.randrange(len(patches)) for _ in range(2))
        *_, unsure = _jsonscan.remainders(offsets, data if data is not None else b"", 4, 0, 3, selectors + b"\0", patches)
        unsure_rows += sum(unsure)
        rows += 3
        which = rng.randrange(len(tables))
        prog = programs[which]
        columns = [(kind, required, list(sources)) for _, kind, required, sources in prog.columns]
        picked = np.array([1, 0, 2, 1, 2], np.int64)
        _, unsure, _, _ = _jsonscan.columns(offsets, data if data is not None else b"", 4, 0, 3, prog.tree, prog.slots,
                                            columns, [list(c) for c in prog.conditions], picked, patch_sets[which])
        sure_rows += len(picked) - sum(unsure)
        raw = text.encode()
        document = b'{"records":[' + b",".join(_mutate(rng, rng.choice(lines)) for _ in range(3)) + b'],"x":' + raw + b"}"
        for data in (raw, document, document[: rng.randrange(len(document) + 1)]):
            answered += _jsonscan.top_level(data) is not None
            documents += 1
        block = b"\n".join(_mutate(rng, rng.choice(lines)) if rng.random() < 0.2 else rng.choice(lines)
                           for _ in range(4))
        if rng.random() < 0.3:
            block = block[: rng.randrange(len(block) + 1)]
        _jsonscan.newlines(block, len(block))
        found = _jsonscan.line_records(block)
        if found is not None:
            count = len(found[1]) // 8
            _jsonscan.top_text(found[0], block, 8, 0, count, "category")
            blocks += 1
    print(f"{rows:,} mutated records scanned for _Extra, {unsure_rows:,} left to DuckDB; "
          f"{5 * args.cases:,} rows scanned for columns, {sure_rows:,} sure; "
          f"{documents:,} texts scanned for their top level, {answered:,} answered; "
          f"{args.cases:,} blocks split, {blocks:,} into records; no fault")


if __name__ == "__main__":
    main()
