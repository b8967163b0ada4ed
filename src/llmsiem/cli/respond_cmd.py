"""``llmsiem respond``: run playbooks on alerts, safely, with approvals, audit and undo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    format_option,
    print_json,
)
from llmsiem.plugins import PluginError
from llmsiem.records import read_records
from llmsiem.respond.alert import AlertError, check_alert
from llmsiem.respond.audit import AUDIT_KEY_ENV, AuditKeyError, AuditLog, audit_key_from_env
from llmsiem.respond.config import ConfigError, RunnerConfig
from llmsiem.respond.playbook import PlaybookLoadError, load_playbooks
from llmsiem.respond.registry import ACTIONS
from llmsiem.respond.runner import Runner
from llmsiem.respond.state import StateError
from llmsiem.respond.step import Status, StepRecord

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="respond.yml: allowlist, approvals, rate limits, state folder.",
)


def load_config(config_path: Path | None) -> RunnerConfig:
    try:
        return RunnerConfig.load(config_path)
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc


def make_runner(
    config_path: Path | None, execute: bool = False, actor: str | None = None
) -> Runner:
    config = load_config(config_path)
    config.execute = config.execute or execute
    try:
        playbooks = load_playbooks()
        key = audit_key_from_env()
        return Runner(
            config, playbooks, actor=actor or os.environ.get("USER", "llmsiem"), audit_key=key
        )
    except (PlaybookLoadError, AuditKeyError, StateError) as exc:
        raise CommandError(str(exc)) from exc


def _audit_key() -> bytes:
    try:
        key = audit_key_from_env()
    except AuditKeyError as exc:
        raise CommandError(str(exc)) from exc
    if key is None:
        raise CommandError(f"set {AUDIT_KEY_ENV}: the audit log is keyed with it")
    return key


def plan_table(records: list[StepRecord], title: str) -> Table:
    table = Table(title=title)
    for column in ("run", "action", "principal", "status", "change / reason"):
        table.add_column(column)
    for record in records:
        change = record.plan.diff() if record.plan is not None else ""
        detail = (
            f"{change}; {record.detail}" if change and record.detail else change or record.detail
        )
        table.add_row(record.run_id, record.ref, record.principal, record.status.value, detail)
    return table


def run_alerts(runner: Runner, alerts: list[dict[str, Any]], output_format: str) -> None:
    records = runner.handle_all(alerts)
    if output_format == "json":
        print_json([r.as_dict() for r in records])
    else:
        mode = "EXECUTE" if runner.config.execute else "dry-run"
        console.print(plan_table(records, f"Response plan ({mode}) for {len(alerts)} alerts"))


@click.group("respond")
def respond_group() -> None:
    """Run playbooks on alerts: dry-run by default, with approvals, audit log and undo."""


@respond_group.command("run")
@click.argument("alerts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--execute", is_flag=True, help="Act for real (default: dry-run plan only).")
@config_option
@format_option
def run_cmd(alerts_file: Path, execute: bool, config_path: Path | None, output_format: str) -> None:
    """Run playbooks on the engine's alert JSONL."""
    alerts = []
    for record in read_records(alerts_file):
        if record.data is None:
            raise CommandError(f"{record.where}: {record.error}")
        try:
            alerts.append(check_alert(record.data))
        except AlertError as exc:
            raise CommandError(f"{record.where}: {exc}") from exc
    run_alerts(make_runner(config_path, execute), alerts, output_format)


@respond_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True)
@click.option("--execute", is_flag=True, help="Act for real (default: dry-run).")
@click.option(
    "--max-body-bytes", default=1_000_000, show_default=True, help="Larger bodies get 413."
)
@click.option(
    "--max-alerts", default=1000, show_default=True, help="More alerts per request get 413."
)
@config_option
def serve_cmd(
    host: str,
    port: int,
    execute: bool,
    max_body_bytes: int,
    max_alerts: int,
    config_path: Path | None,
) -> None:
    """Receive Kibana/Splunk/engine alert webhooks and run playbooks.

    Secrets come from the environment: LLMSIEM_WEBHOOK_SECRET (HMAC signatures) and/or
    LLMSIEM_WEBHOOK_TOKEN (bearer or ?token=; query strings never reach the access log),
    and LLMSIEM_AUDIT_KEY (required with --execute).
    """
    import uvicorn

    from llmsiem.respond.server import access_log_config, create_app

    secret = os.environ.get("LLMSIEM_WEBHOOK_SECRET", "")
    token = os.environ.get("LLMSIEM_WEBHOOK_TOKEN", "")
    if not secret and not token:
        raise CommandError("set LLMSIEM_WEBHOOK_SECRET and/or LLMSIEM_WEBHOOK_TOKEN")
    runner = make_runner(config_path, execute)
    app = create_app(runner, secret, token, max_body_bytes=max_body_bytes, max_alerts=max_alerts)
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=access_log_config())


@respond_group.command("approvals")
@click.option("--approve", "approve_id", help="Approve (and execute) this pending approval.")
@click.option("--deny", "deny_id", help="Deny this pending approval.")
@config_option
@format_option
def approvals_cmd(
    approve_id: str | None, deny_id: str | None, config_path: Path | None, output_format: str
) -> None:
    """List pending approvals, or approve / deny one. Expired approvals count as denied."""
    runner = make_runner(config_path, execute=True)
    if approve_id or deny_id:
        try:
            record = runner.decide_approval(
                approve_id or deny_id or "", bool(approve_id), runner.actor
            )
        except KeyError as exc:
            raise CommandError(str(exc)) from exc
        if record is None:
            console.print(f"denied {deny_id}")
            return
        console.print(plan_table([record], "Approved action"))
        sys.exit(EXIT_OK if record.status is Status.EXECUTED else EXIT_FINDINGS)
    pending = runner.approvals()
    if output_format == "json":
        print_json([a.as_dict() for a in pending])
        return
    table = Table(title=f"{len(pending)} pending approvals")
    for column in ("id", "run", "action", "principal", "inputs"):
        table.add_column(column)
    for item in pending:
        table.add_row(
            item.id, item.run_id, item.action_ref, item.principal, json.dumps(item.inputs)
        )
    console.print(table)


@respond_group.command("undo")
@click.argument("run_id")
@config_option
def undo_cmd(run_id: str, config_path: Path | None) -> None:
    """Reverse every executed, reversible action of a run (audited)."""
    runner = make_runner(config_path, execute=True)
    try:
        records = runner.undo(run_id, runner.actor)
    except KeyError as exc:
        raise CommandError(str(exc)) from exc
    console.print(plan_table(records, f"Undo of run {run_id}"))
    sys.exit(EXIT_OK if all(r.status is Status.UNDONE for r in records) else EXIT_FINDINGS)


@respond_group.command("actions")
@format_option
def actions_cmd(output_format: str) -> None:
    """List the registered response actions (built-ins and ``llmsiem.actions`` plugins)."""
    rows = []
    for name in ACTIONS.names():
        try:
            action = ACTIONS.get(name)
        except PluginError as exc:
            raise CommandError(str(exc)) from exc
        rows.append(
            {
                "name": name,
                "class": f"{action.__module__}.{action.__qualname__}",
                "impact": getattr(action, "impact", ""),
                "reversible": getattr(action, "reversible", False),
            }
        )
    if output_format == "json":
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} response actions")
    for column in ("name", "class", "impact", "reversible"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("name", "class", "impact", "reversible")))
    console.print(table)


@respond_group.command("kill-switch")
@click.argument("state", type=click.Choice(["on", "off", "status"]))
@config_option
def kill_switch_cmd(state: str, config_path: Path | None) -> None:
    """Stop (on) or allow (off) every response action at once."""
    config = load_config(config_path)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    if state == "on":
        config.kill_switch.write_text("response actions stopped\n")
    elif state == "off":
        config.kill_switch.unlink(missing_ok=True)
    console.print(f"kill switch is {'on' if config.kill_switch.exists() else 'off'}")


@respond_group.group("audit")
def audit_group() -> None:
    """Inspect the hash-chained audit log."""


@audit_group.command("verify")
@config_option
@format_option
def audit_verify(config_path: Path | None, output_format: str) -> None:
    """Check the audit log's keyed chain and head; exit 1 when it was tampered with."""
    config = load_config(config_path)
    log = AuditLog(config.state_dir / "audit.jsonl", _audit_key())
    if not log.path.exists():
        raise CommandError(f"{log.path}: no audit log")
    report = log.verify()
    if output_format == "json":
        print_json(
            {
                "records": report.records,
                "problems": [p.__dict__ for p in report.problems],
                "warnings": report.warnings,
            }
        )
    else:
        for warning in report.warnings:
            console.print(f"[yellow]![/] {warning}")
        for problem in report.problems:
            console.print(f"[red]✗[/] {log.path}:{problem.line}: {problem.message}")
        if not report.problems:
            console.print(
                f"[green]✓[/] {log.path}: {report.records} records, chain and head intact"
            )
    sys.exit(EXIT_FINDINGS if report.problems else EXIT_OK)
