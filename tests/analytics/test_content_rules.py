"""Every built-in rule and hunting query: valid, with positive and negative tests that pass.

One parametrized case per file, so a failure names the rule. The tests run through the real
readers and the real KQL engine (``entrawatch.analytics.testing``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entrawatch.analytics.content_data import content_dir
from entrawatch.analytics.loader import load_rule_file
from entrawatch.analytics.testing import run_rule_tests

CONTENT = content_dir()
FILES = sorted([*(CONTENT / "rules").glob("*.yaml"), *(CONTENT / "hunting").glob("*.yaml")])


def test_content_exists():
    assert len(list((CONTENT / "rules").glob("*.yaml"))) >= 1


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_content_rule(path: Path):
    rule, _doc, problems = load_rule_file(path, require_tests=True)
    assert not problems, "\n".join(str(p) for p in problems)
    assert rule is not None
    failures = [f"{o.name}: {o.message}" for o in run_rule_tests(rule) if not o.passed]
    assert not failures, "\n".join(failures)
