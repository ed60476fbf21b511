"""Generate docs/cli.md from the CLI's own --help output (Datasette's habit: docs can't drift).

Run ``python scripts/gen_cli_reference.py > docs/cli.md``; tests/test_cli_reference.py fails when
the committed page differs from what this prints.
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ["TYPER_USE_RICH"] = "0"  # plain click help: stable text, no box drawing

import typer.main  # noqa: E402

from entrawatch.cli import app  # noqa: E402


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    if hasattr(command, "commands"):  # a group (typer bundles its own click classes)
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def render() -> str:
    """The whole reference page as Markdown."""
    os.environ["COLUMNS"] = "100"
    os.environ["TERMINAL_WIDTH"] = "100"
    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from `--help` by `scripts/gen_cli_reference.py`; do not edit by hand.",
        "",
    ]
    for path, command in _walk(root, ["entrawatch"]):
        with command.context_class(command, info_name=" ".join(path), terminal_width=100) as ctx:
            text = command.get_help(ctx).rstrip()
        lines += [f"## `{' '.join(path)}`", "", "```", text, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
