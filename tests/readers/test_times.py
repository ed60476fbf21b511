"""Time parsing: every format of the Elastic corner-case file, exactly, plus the LA export form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from reader_oracle import find_datasets, rows

from entrawatch.readers import ingest_paths, parse_times

CORNER_CASES = find_datasets() / "elastic-integrations/signinlogs/test-time-formats-corner-cases.log"
BASE = datetime(2007, 1, 9, 9, 41, tzinfo=UTC)

#: Each corner-case line's ``time`` and the instant it denotes (fractions truncated to microseconds).
EXPECTED = {
    "01/09/2007 09:41:00": BASE,
    "1/9/2007 09:41:00": BASE,
    "01/09/2007 09:41:00 AM": BASE,
    "1/9/2007 9:41:00 AM": BASE,
    "1/9/2007 10:41:00 AM +01:00": BASE,
    "2007-01-09T09:41:00": BASE,
    "2007-01-09T09:41:00.22Z": BASE.replace(microsecond=220000),
    "2007-01-09T09:41:00.6816663Z": BASE.replace(microsecond=681666),
    "2007-01-09T09:41:00.535404056Z": BASE.replace(microsecond=535404),
    "2007-01-09T09:41:00.992099+00:00": BASE.replace(microsecond=992099),
    "2007-01-09T11:41:00+02:00": BASE,
}


def test_every_corner_case_format_parses_exactly():
    texts = [json.loads(line)["time"] for line in CORNER_CASES.read_text().splitlines() if line.strip()]
    assert sorted(texts) == sorted(EXPECTED)  # the file holds exactly these formats
    assert parse_times(texts) == [EXPECTED[t] for t in texts]


def test_other_forms_and_garbage():
    cases = {
        "9/19/2023, 1:45:17.287 PM": datetime(2023, 9, 19, 13, 45, 17, 287000, tzinfo=UTC),
        "9/19/2023, 12:05:00.000 AM": datetime(2023, 9, 19, 0, 5, tzinfo=UTC),
        "12/31/2023 11:59:59 PM -05:00": datetime(2024, 1, 1, 4, 59, 59, tzinfo=UTC),
        "2025-04-11T16:15:30.5431359+00:00": datetime(2025, 4, 11, 16, 15, 30, 543135, tzinfo=UTC),
        "2020-05-20T18:19:04.423": datetime(2020, 5, 20, 18, 19, 4, 423000, tzinfo=UTC),
        " 2020-05-20 18:19:04Z ": datetime(2020, 5, 20, 18, 19, 4, tzinfo=UTC),
    }
    assert parse_times(list(cases)) == list(cases.values())
    assert parse_times(["13/45/2020 10:00:00", "not a time", "2020-13-01T00:00:00Z", "", None]) == [None] * 5


def test_corner_case_times_reach_time_generated(tmp_path, warehouse):
    # The corner-case records have no id; give them one so they are stored and the time is visible.
    lines = []
    for index, line in enumerate(CORNER_CASES.read_text().splitlines()):
        record = json.loads(line)
        record["properties"] = {"id": f"t{index}"}
        lines.append(json.dumps(record))
    path = tmp_path / "times.json"
    path.write_text("\n".join(lines))
    report = ingest_paths([path], warehouse)
    assert report.per_table["SigninLogs"].inserted == len(EXPECTED)
    stored = {r["Id"]: r["TimeGenerated"] for r in rows(warehouse, 'SELECT "Id", "TimeGenerated" FROM "SigninLogs"')}
    for index, line in enumerate(CORNER_CASES.read_text().splitlines()):
        assert stored[f"t{index}"] == EXPECTED[json.loads(line)["time"]]
