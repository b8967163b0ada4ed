"""``llmsiem demo``: the main job end to end on bundled sample telemetry."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
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
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.batch import detect_files
from llmsiem.levels import rank
from llmsiem.records import read_records
from llmsiem.resources import demo_telemetry
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner, RunnerConfig
from llmsiem.respond.step import StepRecord
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


EXAMPLES = 3
WHO_FIELDS = ("user.id", "llmsiem.api_key.id", "source.ip", "service.name")


def _who(alert: dict[str, Any]) -> str:
    parts = []
    for dotted in WHO_FIELDS:
        value: Any = alert
        for key in dotted.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            parts.append(f"{dotted.split('.')[-2] if dotted.endswith('.id') else dotted}: {value}")
    return ", ".join(parts) or "-"


def _alert_label(alert: dict[str, Any]) -> str:
    return f"{alert['rule']['name']} ({alert['llmsiem']['alert']['event_ids'][0]})"


def plan_response(
    runner: Runner, alerts: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], StepRecord]], list[StepRecord]]:
    """(alert, planned step) pairs, one per action and principal (the first alert that
    asks for it), and the steps skipped because their target is not configured."""
    planned: list[tuple[dict[str, Any], StepRecord]] = []
    seen: set[tuple[str, str]] = set()
    skipped: list[StepRecord] = []
    for alert in sorted(alerts, key=lambda a: -rank(a["llmsiem"]["alert"]["level"])):
        for record in runner.handle(alert):
            if record.detail.startswith("not configured"):
                skipped.append(record)
            elif (key := (record.ref, record.principal)) not in seen:
                seen.add(key)
                planned.append((alert, record))
    return planned, skipped


def _evidence(alert: dict[str, Any], alerts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The alert's own evidence; a correlation's comes from the detections on its events."""
    own: list[dict[str, str]] = alert["llmsiem"]["alert"].get("evidence", [])
    if own:
        return own
    ids = set(alert["llmsiem"]["alert"]["event_ids"])
    found: dict[str, dict[str, str]] = {}
    for other in alerts:
        if other["llmsiem"]["alert"]["kind"] == "detection" and ids & set(
            other["llmsiem"]["alert"]["event_ids"]
        ):
            for item in other["llmsiem"]["alert"].get("evidence", []):
                found.setdefault(item["field"], item)
    return list(found.values())


def _examples(
    alerts: list[dict[str, Any]], planned: list[tuple[dict[str, Any], StepRecord]]
) -> list[dict[str, Any]]:
    """Alerts that caused a planned action and have evidence, one per rule, most severe
    first; then the most severe other alerts with evidence."""
    acted = [a for a, _ in planned]
    ordered = sorted(alerts, key=lambda a: -rank(a["llmsiem"]["alert"]["level"]))
    chosen: list[dict[str, Any]] = []
    for alert in [*acted, *ordered]:
        rules = {a["rule"]["name"] for a in chosen}
        if alert["rule"]["name"] not in rules and _evidence(alert, alerts):
            chosen.append(alert)
        if len(chosen) == EXAMPLES:
            break
    return chosen


def _example_table(
    number: int,
    alert: dict[str, Any],
    planned: list[tuple[dict[str, Any], StepRecord]],
    alerts: list[dict[str, Any]],
) -> Table:
    info = alert["llmsiem"]["alert"]
    table = Table(title=f"Example alert {number}", show_header=False, title_justify="left")
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    table.add_row("what", escape(f"[{info['level']}] {info['title']} ({info['kind']})"))
    table.add_row("who", escape(_who(alert)))
    table.add_row("when", str(alert["@timestamp"]))
    for item in _evidence(alert, alerts):
        table.add_row("evidence", f"{item['field']}: {escape(item['excerpt'])}")
    actions = [r for a, r in planned if a is alert]
    response = "; ".join(f"{r.ref} on {r.principal} (dry-run)" for r in actions)
    table.add_row("response", escape(response or "none planned for this alert"))
    return table


def _plan_table(planned: list[tuple[dict[str, Any], StepRecord]]) -> Table:
    table = Table(title="Response plan (dry-run: nothing was changed)")
    for column in ("because of alert", "playbook / action", "principal", "change"):
        table.add_column(column, overflow="fold")
    for alert, record in planned:
        change = record.plan.diff() if record.plan is not None else record.detail
        table.add_row(
            escape(_alert_label(alert)),
            f"{record.playbook} /\n{record.action}",
            record.principal,
            escape(change),
        )
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
    engine, shows three example alerts with their evidence, and what the playbooks would
    do (dry-run: nothing is changed; each action once per principal).
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
        planned, skipped = plan_response(Runner(config, load_playbooks(), actor="demo"), run.alerts)
    examples = _examples(run.alerts, planned)
    not_configured = Counter((r.action, r.detail.removeprefix("not configured: ")) for r in skipped)
    if output_format == "json":
        print_json(
            {
                "input": str(path),
                "invalid": invalid,
                "summary": summary.as_dict(),
                "alerts": len(run.alerts),
                "alerts_by_rule": dict(Counter(a["rule"]["name"] for a in run.alerts)),
                "examples": [{**a, "evidence": _evidence(a, run.alerts)} for a in examples],
                "response_plan": [{**r.as_dict(), "alert": _alert_label(a)} for a, r in planned],
                "not_configured": [
                    {"action": action, "steps": count, "configure": how}
                    for (action, how), count in sorted(not_configured.items())
                ],
            }
        )
        return
    console.print(f"[bold]llmsiem demo[/] on {path}")
    console.print(_summary_table(summary, invalid))
    console.print(alert_table(run.alerts))
    for number, alert in enumerate(examples, 1):
        console.print(_example_table(number, alert, planned, run.alerts))
    console.print(_plan_table(planned))
    if not_configured:
        console.print("Steps skipped because their target is not configured:")
        for (action, how), count in sorted(not_configured.items()):
            console.print(f"  {action} ({count} steps): {escape(how)}")
