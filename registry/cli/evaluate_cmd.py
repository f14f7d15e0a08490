"""``ipreg evaluate``: the task force's scenario run; HTML + JSON report with plots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def evaluate(
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html, report.json and the PNG plots.")],
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario TOML (default: the built-in default, or small on embedded)."),
    ] = None,
    chain: Annotated[
        str, typer.Option("--chain", help="embedded (in-process EVM), anvil (started here) or an http(s):// URL.")
    ] = "anvil",
    seed: Annotated[int | None, typer.Option("--seed", help="Workload seed (default: the scenario's).")] = None,
) -> None:
    """Run a scenario end to end on a test chain and write the evaluation report."""
    from registry.evaluate.report import headline
    from registry.evaluate.runner import PHASES
    from registry.evaluate.runner import evaluate as run_evaluation
    from registry.evaluate.scenario import load_scenario

    if seed is not None and not 0 <= seed < 2**63:
        raise typer.BadParameter("--seed must be between 0 and 2**63-1", param_hint="--seed")
    chosen = load_scenario(scenario, "small" if chain == "embedded" else "default")
    if sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]{task.description:<16}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("setup", total=len(PHASES))

            def advance(phase: str, fraction: float) -> None:
                bar.update(task, description=phase, completed=PHASES.index(phase) + min(max(fraction, 0.0), 1.0))

            body = run_evaluation(chosen, chain, out, seed, advance)
    else:  # a log, not a terminal: one line as each phase starts, with the time so far
        import time

        started, seen = time.monotonic(), [""]

        def log_phase(phase: str, _fraction: float) -> None:
            if phase != seen[0]:
                seen[0] = phase
                elapsed = time.monotonic() - started
                typer.echo(f"evaluate: {phase} ({PHASES.index(phase) + 1}/{len(PHASES)}) at {elapsed:.0f} s", err=True)

        body = run_evaluation(chosen, chain, out, seed, log_phase)
    typer.echo(f"scenario {body['scenario']['name']} on {body['environment']['chainKind']} in {body['seconds']:.1f} s")
    for label, value, extra in headline(body):
        typer.echo(f"  {label:<58} {value} {extra}".rstrip())
    typer.echo(f"report: {out / 'report.html'} (figures: {out / 'report.json'})")
