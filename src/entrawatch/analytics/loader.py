"""Loading rule files from a file or folder, collecting every problem instead of stopping.

``load_rules`` returns the rules that are valid plus a list of :class:`RuleError` for everything
wrong in the others (three broken files -> at least three errors, each ``path:line``). Hunting
queries are recognised by living under a ``hunting`` folder (or ``kind: Hunting``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from entrawatch.analytics.model import Rule
from entrawatch.analytics.validate import validate_document
from entrawatch.analytics.yamllines import LocatedDocument, load_located
from entrawatch.errors import RuleError

RULE_SUFFIXES = (".yaml", ".yml")


def rule_files(path: str | Path) -> list[Path]:
    """The YAML files under ``path`` (or ``path`` itself), sorted for a stable order."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.exists():
        raise RuleError("no such rule file or folder", path=str(root))
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())


def _is_hunting(path: Path, data: object) -> bool:
    if isinstance(data, dict) and str(data.get("kind", "")).lower() == "hunting":
        return True
    if isinstance(data, dict) and "queryFrequency" in data:
        return False
    return any(part.lower() in ("hunting", "hunting queries") for part in path.parts)


def load_rule_file(path: Path, *, require_tests: bool = True) -> tuple[Rule | None, LocatedDocument | None,
                                                                         list[RuleError]]:
    """One file -> (rule or None when unusable, its located document, problems)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, None, [RuleError(f"cannot read rule file: {err}", path=str(path))]
    try:
        doc = load_located(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        return None, None, [RuleError(f"YAML syntax error: {problem}", path=str(path), line=line)]
    hunting = _is_hunting(path, doc.data)
    problems = validate_document(doc, path, kind="Hunting" if hunting else "Scheduled",
                                 require_tests=require_tests)
    if not isinstance(doc.data, dict):
        return None, doc, problems
    rule = Rule.from_dict(doc.data, path=path, kind="Hunting" if hunting else None)
    return rule, doc, problems


def load_rules(path: str | Path, *, require_tests: bool = False) -> tuple[list[Rule], list[RuleError]]:
    """Valid rules under ``path`` and every problem found (invalid rules are left out).

    ``require_tests`` makes a missing positive/negative test a problem (``rules validate`` and CI
    do); detection leaves it off so a plain Sentinel rule file runs as is.
    """
    rules: list[Rule] = []
    problems: list[RuleError] = []
    seen: dict[str, Path] = {}
    for file in rule_files(path):
        rule, doc, file_problems = load_rule_file(file, require_tests=require_tests)
        if rule is not None and rule.id and rule.id in seen:
            file_problems.append(RuleError(f"duplicate id {rule.id}, also used by {seen[rule.id]}",
                                           path=str(file), line=doc.line("id") if doc else None, field="id"))
        problems.extend(file_problems)
        if rule is not None and rule.id:
            seen.setdefault(rule.id, file)
        if rule is not None and not file_problems:
            rules.append(rule)
    return rules, problems
