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

SLOW_PATH_SHARE = 0.1
"""Above this share of events on the per-record path, the summary says so (it is slower)."""


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
@click.option(
    "--chunk-events",
    type=click.IntRange(min=1),
    default=250_000,
    show_default=True,
    help="Events evaluated per step; memory grows with it, not with the input.",
)
@click.option("--follow", is_flag=True, help="Stream: keep reading a growing file or stdin.")
@click.option("--interval", default=0.2, show_default=True, help="Follow poll interval (s).")
@click.option(
    "--idle-exit",
    type=float,
    help="Follow mode: stop after this many seconds without new data.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Follow mode: serve Prometheus /metrics on 127.0.0.1:PORT.",
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
    chunk_events: int,
    follow: bool,
    interval: float,
    idle_exit: float | None,
    metrics_port: int | None,
    respond: bool,
    output_format: str,
) -> None:
    """Run the whole rule pack (correlations included) over INPUTS (files or folders).

    INPUTS are JSON/JSONL files (gzip-compressed too, e.g. events.jsonl.gz), Parquet
    files, or folders of them (hive-partitioned Parquet folders such as dt=2026-12-01/
    included); they stream through the engine in chunks, so memory does not grow with the
    input.

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
            metrics_port,
        )
        return
    if not inputs:
        raise CommandError("no INPUTS given (files or folders; use --follow for stdin)")
    try:
        paths = _input_paths(inputs)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    stream = _open_alerts(alerts_path, append)
    kept: list[dict[str, Any]] = []
    summary: Counter[tuple[str, str, str]] = Counter()

    def emit(alert: dict[str, Any]) -> None:
        stream.write(json.dumps(alert, ensure_ascii=False) + "\n")
        about = alert["llmsiem"]["alert"]
        summary[(about["level"], about["title"], about["kind"])] += 1
        if respond:
            kept.append(alert)

    with (
        DeadLetter(dead_letter) as letters,
        Progress(
            TextColumn("[bold]loading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            disable=output_format == "json" or (len(paths) < 2 and _size(paths[0]) < 5e6),
        ) as progress,
    ):
        task = progress.add_task("", total=len(paths))

        def advance(path: Path, loaded: int) -> None:
            progress.update(task, advance=1, description=f"{path.name}: {loaded:,} events")

        pipeline = make_pipeline(scrub_mode, letters, source_format)
        run = detect_files(paths, engine_rules, pipeline, advance, emit, chunk_events)
    if stream is not sys.stdout:
        stream.close()
    if respond and kept:
        from llmsiem.cli.respond_cmd import make_runner, run_alerts

        run_alerts(make_runner(None), kept, output_format)
    if output_format == "json":
        print_json(
            {
                "files": run.files,
                "events": run.loaded,
                "rejected": run.rejected,
                "quarantined": run.quarantined,
                "rescrubbed": run.rescrubbed,
                "late_events": run.late,
                "alerts": run.alert_count,
                "alerts_file": alerts_path,
                "dead_letter": str(dead_letter) if run.rejected else None,
                "by_rule": dict(run.by_rule),
                "skipped_rules": [i.__dict__ for i in engine_rules.issues],
            }
        )
    elif alerts_path != "-":
        # The table counts alerts by (level, title, kind); one stand-in per alert suffices.
        console.print(
            alert_table(
                [
                    stand_in
                    for (level, title, kind), count in summary.items()
                    for stand_in in [
                        {"llmsiem": {"alert": {"level": level, "title": title, "kind": kind}}}
                    ]
                    * count
                ]
            )
        )
        console.print(
            f"{run.loaded:,} events from {run.files} input(s); {run.rejected} rejected"
            + (f" → {dead_letter}" if run.rejected else "")
            + f"; alerts → {alerts_path}"
        )
        slow = run.quarantined + run.rescrubbed
        if slow > SLOW_PATH_SHARE * run.loaded:
            err_console.print(
                f"{slow:,} events took the per-record path ({run.quarantined:,} lines the "
                f"typed read would not take, {run.rescrubbed:,} rows with findings outside "
                "plain text fields), each several times slower than the bulk path"
            )
        if run.late:
            err_console.print(
                f"{run.late:,} events arrived older than events already evaluated; "
                "correlations over them may differ from a run over time-sorted input"
            )
    sys.exit(EXIT_FINDINGS if run.alert_count or run.rejected else EXIT_OK)


def _size(path: Path) -> float:
    return float(path.stat().st_size) if path.is_file() else float("inf")


def _input_paths(inputs: tuple[Path, ...]) -> list[Path]:
    """Files to read: JSON/JSONL, gzip or not (folders searched), Parquet files, and folders
    of Parquet files (hive partitions such as dt=2026-12-01/) read as one input each."""
    from llmsiem.engine.batch import is_parquet
    from llmsiem.records import expand_inputs

    paths: list[Path] = []
    for given in inputs:
        if is_parquet(given):
            paths.append(given)
        if not given.is_dir() and is_parquet(given):
            continue
        found = expand_inputs([given])
        paths.extend(found)
    if not paths:
        raise FileNotFoundError(
            f"no JSON, JSONL or Parquet files under {', '.join(map(str, inputs))}"
        )
    return paths


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
    metrics_port: int | None,
) -> None:
    from llmsiem.deadletter import DeadLetter
    from llmsiem.engine.batch import is_parquet
    from llmsiem.engine.stream import Follower, LineSource
    from llmsiem.metrics import MeteredDeadLetter, MeteredPipeline, Metrics
    from llmsiem.records import is_compressed

    if len(inputs) > 1:
        raise CommandError("--follow reads one file (or stdin)")
    path = None if not inputs or str(inputs[0]) == "-" else inputs[0]
    if path is not None and not path.is_file():
        raise CommandError(f"{path}: no such file")
    if path is not None and is_parquet(path):
        raise CommandError(f"{path}: --follow tails appended lines; run Parquet without it")
    if path is not None and is_compressed(path):
        raise CommandError(f"{path}: --follow tails appended lines; run a gzip file without it")
    stream = _open_alerts(alerts_path, append)

    metrics = None
    if metrics_port is not None:
        metrics = Metrics()
        try:
            metrics.serve(metrics_port)
        except OSError as exc:
            raise CommandError(f"--metrics-port {metrics_port}: {exc.strerror}") from exc

    def emit(alert: dict[str, Any]) -> None:
        stream.write(json.dumps(alert, ensure_ascii=False) + "\n")
        stream.flush()
        if metrics is not None:
            metrics.observe_alert(alert)

    letters = (
        DeadLetter(dead_letter) if metrics is None else MeteredDeadLetter(dead_letter, metrics)
    )
    with letters:
        pipeline = make_pipeline(scrub_mode, letters, source_format)
        if metrics is not None:
            pipeline = MeteredPipeline.around(pipeline, metrics)
        follower = Follower(engine_rules, pipeline, emit)
        with contextlib.suppress(KeyboardInterrupt):
            follower.follow(LineSource.open(path), interval, idle_exit)
    err_console.print(f"{follower.events:,} events, {follower.emitted} alerts")
    sys.exit(EXIT_FINDINGS if follower.emitted else EXIT_OK)
