"""``llmsiem demo``: the main job end to end on bundled sample telemetry."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import click
from rich.table import Table

from llmsiem.cli.common import (
    CommandError,
    alert_table,
    console,
    format_option,
    load_engine_rules,
    make_pipeline,
    print_json,
)
from llmsiem.cli.respond_cmd import plan_table
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.batch import detect_files
from llmsiem.records import read_records
from llmsiem.resources import demo_telemetry
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner, RunnerConfig
from llmsiem.summary import TelemetrySummary
from llmsiem.validation import check_records


def _summary_table(summary: TelemetrySummary, invalid: int) -> Table:
    table = Table(title="Telemetry summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    data = summary.as_dict()
    table.add_row("events (valid)", str(data["events"]))
    table.add_row("events (invalid)", str(invalid))
    for action, count in data["by_action"].items():
        table.add_row(f"  event.action={action}", str(count))
    table.add_row("users", str(data["users"]))
    table.add_row("api keys", str(data["api_keys"]))
    table.add_row("models", ", ".join(f"{m} ({n})" for m, n in data["models"].items()))
    table.add_row("input tokens", f"{data['input_tokens']:,}")
    table.add_row("output tokens", f"{data['output_tokens']:,}")
    table.add_row("cost (USD)", f"{data['cost_usd']:.4f}")
    table.add_row("time range", f"{data['first']} → {data['last']}")
    return table


@click.command("demo")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Telemetry JSONL to use instead of the bundled sample.",
)
@format_option
def demo(input_path: Path | None, output_format: str) -> None:
    """Run the main job on bundled sample telemetry.

    Validates and summarises the telemetry, runs the whole rule pack in the embedded
    engine, and shows what the playbooks would do (dry-run: nothing is changed).
    """
    path = input_path or demo_telemetry()
    summary = TelemetrySummary()
    invalid = 0
    for checked in check_records(read_records(path)):
        if checked.event is None:
            invalid += 1
        else:
            summary.add(checked.event)
    if summary.events == 0:
        raise CommandError(f"{path}: no valid events")
    rules = load_engine_rules(None, None)
    with DeadLetter(None) as letters:
        run = detect_files([path], rules, make_pipeline("redact", letters))
    with tempfile.TemporaryDirectory() as state:
        config = RunnerConfig(execute=False, state_dir=Path(state))
        records = Runner(config, load_playbooks(), actor="demo").handle_all(run.alerts)
    if output_format == "json":
        print_json(
            {
                "input": str(path),
                "invalid": invalid,
                "summary": summary.as_dict(),
                "alerts": len(run.alerts),
                "alerts_by_rule": dict(Counter(a["rule"]["name"] for a in run.alerts)),
                "response_plan": [r.as_dict() for r in records],
            }
        )
        return
    console.print(f"[bold]llmsiem demo[/] on {path}")
    console.print(_summary_table(summary, invalid))
    console.print(alert_table(run.alerts))
    configured = [r for r in records if not r.detail.startswith("not configured")]
    console.print(plan_table(configured, "Response plan (dry-run: nothing was changed)"))
    skipped = Counter(r.action for r in records if r.detail.startswith("not configured"))
    if skipped:
        console.print(
            "steps skipped because their target is not configured: "
            + ", ".join(f"{name} ({count})" for name, count in sorted(skipped.items()))
        )
