"""The ``entrawatch`` command line: a thin face over the library.

Each command group lives in its own module with a ``register(app)`` function; this module only
assembles them and translates :class:`EntrawatchError` into one line on stderr and exit code 1.
Command modules import no engine library (duckdb, sqlglot, pyspark); they call entrawatch APIs.
"""

from __future__ import annotations

import sys

import typer

from entrawatch import __version__
from entrawatch.cli import analytics_cmds, ingest_cmds, query_cmds, simulate_cmds
from entrawatch.errors import EntrawatchError

app = typer.Typer(
    name="entrawatch",
    help="Detections for Microsoft Entra ID sign-in and audit logs: all four sign-in streams, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"entrawatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """entrawatch command line."""


for module in (ingest_cmds, query_cmds, simulate_cmds, analytics_cmds):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and turns entrawatch errors into a one-line message."""
    try:
        # In non-standalone mode click returns (not raises) the code of ``typer.Exit``.
        code = app(args=argv, standalone_mode=False)
    except EntrawatchError as err:
        typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
        return 1
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as err:
        # Usage errors from the (vendored) click that typer bundles: duck-typed so the
        # check does not depend on which click package typer ships.
        show, exit_code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
