"""``entrawatch simulate``: write a simulated tenant's logs and their ground truth (a thin face over the library)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from entrawatch.simulator import FORMATS, SCENARIO_IDS, SimulationConfig, simulate


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""

    @app.command("simulate")
    def simulate_command(
        out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the logs, truth.json and "
                                                               "threat_intel.csv into.")],
        users: int = typer.Option(500, "--users", min=1, help="Number of people in the tenant (at least 20 "
                                                              "are created so every scenario finds its cast)."),
        days: int = typer.Option(7, "--days", min=1, max=400, help="Length of the simulated period in days."),
        seed: int = typer.Option(7, "--seed", help="Random seed: same seed and options give identical bytes."),
        start: str = typer.Option(None, "--start", help="Start of the period, ISO 8601 (default 2025-03-03T00:00Z, "
                                                        "fixed so runs stay reproducible)."),
        scenarios: str = typer.Option("all", "--scenarios", help="'all', 'none', or a comma list of ids: "
                                                                 + ", ".join(SCENARIO_IDS)),
        benign_lookalikes: bool = typer.Option(True, "--benign-lookalikes/--no-benign-lookalikes",
                                               help="Include the benign look-alike scenarios (with 'all')."),
        fmt: str = typer.Option("diagnostic", "--format", help="Source shape: " + ", ".join(FORMATS) + "."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Simulate an Entra ID tenant under attack: four sign-in streams plus audit, with labelled scenarios."""
        config = SimulationConfig(users=users, days=days, seed=seed, start=start, scenarios=scenarios,
                                  benign_lookalikes=benign_lookalikes, format=fmt)
        if quiet:
            result = simulate(config, out)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("[bold]simulating[/bold] {task.description}"), BarColumn(),
                          MofNCompleteColumn(), TextColumn("hours"), TimeElapsedColumn(),
                          transient=True) as bar:
                task = bar.add_task("0 events", total=days * 24)

                def report(done: int, total: int, events: int) -> None:
                    bar.update(task, completed=done, description=f"{events:,} events")

                result = simulate(config, out, progress=report)
        counts = ", ".join(f"{table} {n:,}" for table, n in result.counts.items())
        typer.echo(f"wrote {result.total:,} events ({counts}) as {fmt} to {out}")
        typer.echo(f"ground truth: {result.truth_path}")
        if result.threat_intel_path is not None:
            typer.echo(f"threat intelligence: {result.threat_intel_path}")
