"""Feed the C scans of JSON text (``readers/_jsonscan.c``) mutated input under AddressSanitizer.

The scans read attacker-controlled text in C. The Hypothesis tests (tests/readers/test_remainder.py,
test_jsonscan.py) check what they answer; this script checks that no input makes them read or write
out of bounds: it cuts the dataset's diagnostic records anywhere, deletes spans and inserts structural
bytes, and calls ``remainders`` on each, whole and halved, with every patch of every table, and
``top_level`` on each and on a ``{"records":[...]}`` document of a few of them.

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

import pyarrow as pa

from entrawatch import schema
from entrawatch.readers import _jsonscan, mapping, sqlgen

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
    patch_sets = [list(sqlgen.extra_patches(mapping.DIAG, table)) for table in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)]
    unsure_rows = rows = answered = documents = 0
    for _ in range(args.cases):
        text = _mutate(rng, rng.choice(lines)).decode("utf-8", "replace")
        array = pa.array([text, text[: len(text) // 2]])
        _, offsets, data = array.buffers()
        patches = rng.choice(patch_sets)
        selectors = bytes(rng.randrange(len(patches)) for _ in range(2))
        *_, unsure = _jsonscan.remainders(offsets, data if data is not None else b"", 4, 0, 2, selectors, patches)
        unsure_rows += sum(unsure)
        rows += 2
        raw = text.encode()
        document = b'{"records":[' + b",".join(_mutate(rng, rng.choice(lines)) for _ in range(3)) + b'],"x":' + raw + b"}"
        for data in (raw, document, document[: rng.randrange(len(document) + 1)]):
            answered += _jsonscan.top_level(data) is not None
            documents += 1
    print(f"{rows:,} mutated records scanned for _Extra, {unsure_rows:,} left to DuckDB; "
          f"{documents:,} texts scanned for their top level, {answered:,} answered; no fault")


if __name__ == "__main__":
    main()
