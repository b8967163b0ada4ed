"""``llmsiem detect``: the rule pack over local telemetry with the embedded DuckDB engine."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    alert_table,
    console,
    dead_letter_option,
    err_console,
    format_option,
    load_engine_rules,
    make_pipeline,
    print_json,
    rules_option,
    scrub_option,
    source_format_option,
    tuning_option,
)

if TYPE_CHECKING:  # the engine loads when the command runs, not for --help
    from llmsiem.engine.rules import EngineRules
    from llmsiem.rulepack import RuleSources


def _open_alerts(path: str, append: bool) -> IO[str]:
    if path == "-":
        return sys.stdout
    return Path(path).open("a" if append else "w", encoding="utf-8")


@click.command("detect")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@source_format_option
@scrub_option
@rules_option
@tuning_option
@click.option(
    "--alerts",
    "alerts_path",
    default="llmsiem-alerts.jsonl",
    show_default=True,
    help="Write alerts (ECS JSON lines) here, replacing the file; '-' for stdout.",
)
@click.option("--append", is_flag=True, help="Append to the --alerts file instead of replacing it.")
@dead_letter_option
@click.option("--follow", is_flag=True, help="Stream: keep reading a growing file or stdin.")
@click.option("--interval", default=0.2, show_default=True, help="Follow poll interval (s).")
@click.option(
    "--idle-exit",
    type=float,
    help="Follow mode: stop after this many seconds without new data.",
)
@click.option(
    "--respond",
    is_flag=True,
    help="Plan the playbooks for the raised alerts. Always a dry run: nothing is changed; "
    "act with `llmsiem respond run --execute ALERTS_FILE`.",
)
@format_option
def detect_cmd(
    inputs: tuple[Path, ...],
    source_format: str,
    scrub_mode: str,
    rules: RuleSources | None,
    tuning: Path | None,
    alerts_path: str,
    append: bool,
    dead_letter: Path,
    follow: bool,
    interval: float,
    idle_exit: float | None,
    respond: bool,
    output_format: str,
) -> None:
    """Run the whole rule pack (correlations included) over INPUTS (files or folders).

    With --follow, INPUT is one growing file, or stdin when omitted or '-'. Events are
    scrubbed as they would be before shipping (--scrub), so the engine sees what a SIEM sees.
    Exit codes: 0 no alerts, 1 alerts raised, 2 error.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from llmsiem.deadletter import DeadLetter
    from llmsiem.engine.batch import detect_files
    from llmsiem.records import expand_inputs

    engine_rules = load_engine_rules(rules, tuning)
    if follow:
        _follow(
            inputs,
            engine_rules,
            source_format,
            scrub_mode,
            alerts_path,
            append,
            dead_letter,
            interval,
            idle_exit,
        )
        return
    if not inputs:
        raise CommandError("no INPUTS given (files or folders; use --follow for stdin)")
    try:
        paths = expand_inputs(inputs)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    with (
        DeadLetter(dead_letter) as letters,
        Progress(
            TextColumn("[bold]loading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            disable=output_format == "json" or (len(paths) < 2 and paths[0].stat().st_size < 5e6),
        ) as progress,
    ):
        task = progress.add_task("", total=len(paths))

        def advance(path: Path, loaded: int) -> None:
            progress.update(task, advance=1, description=f"{path.name}: {loaded:,} events")

        pipeline = make_pipeline(scrub_mode, letters, source_format)
        run = detect_files(paths, engine_rules, pipeline, advance)
    stream = _open_alerts(alerts_path, append)
    for alert in run.alerts:
        stream.write(json.dumps(alert, ensure_ascii=False) + "\n")
    if stream is not sys.stdout:
        stream.close()
    if respond and run.alerts:
        from llmsiem.cli.respond_cmd import make_runner, run_alerts

        run_alerts(make_runner(None), run.alerts, output_format)
    if output_format == "json":
        print_json(
            {
                "files": run.files,
                "events": run.loaded,
                "rejected": run.rejected,
                "alerts": len(run.alerts),
                "alerts_file": alerts_path,
                "dead_letter": str(dead_letter) if run.rejected else None,
                "by_rule": dict(Counter(a["rule"]["name"] for a in run.alerts)),
                "skipped_rules": [i.__dict__ for i in engine_rules.issues],
            }
        )
    elif alerts_path != "-":
        console.print(alert_table(run.alerts))
        console.print(
            f"{run.loaded:,} events from {run.files} file(s); {run.rejected} rejected"
            + (f" → {dead_letter}" if run.rejected else "")
            + f"; alerts → {alerts_path}"
        )
    sys.exit(EXIT_FINDINGS if run.alerts or run.rejected else EXIT_OK)


def _follow(
    inputs: tuple[Path, ...],
    engine_rules: EngineRules,
    source_format: str,
    scrub_mode: str,
    alerts_path: str,
    append: bool,
    dead_letter: Path,
    interval: float,
    idle_exit: float | None,
) -> None:
    from llmsiem.deadletter import DeadLetter
    from llmsiem.engine.stream import Follower, LineSource

    if len(inputs) > 1:
        raise CommandError("--follow reads one file (or stdin)")
    path = None if not inputs or str(inputs[0]) == "-" else inputs[0]
    if path is not None and not path.is_file():
        raise CommandError(f"{path}: no such file")
    stream = _open_alerts(alerts_path, append)

    def emit(alert: dict[str, Any]) -> None:
        stream.write(json.dumps(alert, ensure_ascii=False) + "\n")
        stream.flush()

    with DeadLetter(dead_letter) as letters:
        follower = Follower(engine_rules, make_pipeline(scrub_mode, letters, source_format), emit)
        with contextlib.suppress(KeyboardInterrupt):
            follower.follow(LineSource.open(path), interval, idle_exit)
    err_console.print(f"{follower.events:,} events, {follower.emitted} alerts")
    sys.exit(EXIT_FINDINGS if follower.emitted else EXIT_OK)
