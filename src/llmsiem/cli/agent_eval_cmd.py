"""``llmsiem agent-eval``: detection efficacy on agent/MCP sessions and AgentDojo traces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from llmsiem.agent_eval import score_agentdojo, score_fleet, score_sessions, target_checks
from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    default_corpora,
    format_option,
    load_engine_rules,
    make_pipeline,
    print_json,
    rules_option,
    tuning_option,
)
from llmsiem.deadletter import DeadLetter
from llmsiem.synthetic import generate_agent_fleet, generate_agent_sessions


def _table(title: str, rows: list[dict[str, Any]], rate: str) -> Table:
    table = Table(title=title)
    for column in ("set", "n", "hits", rate, "95% CI", "top rules"):
        table.add_column(column, justify="left" if column in ("set", "top rules") else "right")
    for row in rows:
        low, high = row["ci95"]
        rules = ", ".join(f"{k} ({v})" for k, v in list(row["rules"].items())[:3])
        value = "n/a" if row["rate"] is None else f"{row['rate']:.1%}"
        table.add_row(
            row["name"], str(row["total"]), str(row["hits"]), value, f"{low:.1%}-{high:.1%}", rules
        )
    return table


def _print_fleet(fleet: dict[str, Any]) -> None:
    table = Table(
        title=f"Agent fleet: {fleet['hijacked_runs']} hijacked runs, {fleet['benign_runs']} benign"
    )
    for column in ("rule", "recall", "95% CI", "FPR", "95% CI "):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for row in fleet["rules"]:
        cells = [row["rule"]]
        for part in (row["recall"], row["fpr"]):
            low, high = part["ci95"]
            cells += [f"{part['rate']:.1%}", f"{low:.1%}-{high:.1%}"]
        table.add_row(*cells)
    console.print(table)
    for key, label in (
        ("best_ceiling_at_target_fpr", "best fixed ceiling at FPR <= 1%"),
        ("best_ceiling_at_target_recall", "best fixed ceiling at recall >= 90%"),
    ):
        best = fleet[key]
        if best:
            console.print(
                f"{label}: {best['ceiling']} calls/minute, recall {best['recall']:.1%}, "
                f"FPR {best['fpr']:.1%}"
            )


@click.command("agent-eval")
@click.option("--sessions", default=700, show_default=True, help="Generated sessions to score.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated sessions.")
@click.option(
    "--attack-every", default=10, show_default=True, help="One attack session per N sessions."
)
@click.option(
    "--corpora",
    type=click.Path(path_type=Path),
    default=default_corpora,
    show_default="$LLMSIEM_CORPORA or ../shared/corpora/dev",
    help="Folder holding agentdojo/; AgentDojo is skipped (with a note) when absent.",
)
@click.option(
    "--fleet-minutes",
    default=150,
    show_default=True,
    help="Minutes of the generated agent fleet (tool-call rate per agent; 0 skips it).",
)
@rules_option
@tuning_option
@click.option("--check", is_flag=True, help="Exit 1 when an efficacy target is missed.")
@format_option
def agent_eval_cmd(
    sessions: int,
    seed: int,
    attack_every: int,
    corpora: Path,
    fleet_minutes: int,
    rules: Path | None,
    tuning: Path | None,
    check: bool,
    output_format: str,
) -> None:
    """Score the rule pack on generated agent/MCP sessions and AgentDojo tool-call traces.

    Prints session recall per attack scenario (rug pull, exfiltration chain, injected tool
    result, probing, error storm, CI poisoning, database recon), the false-positive rate over
    benign multi-tool sessions, and AgentDojo injected-call recall per attack template with
    the ordinary tool-call false-positive rate. On a generated agent fleet, where quiet
    agents' tool-call rates jump while bulk agents always run high, it compares the per-agent
    baseline rule with the fixed ceiling and with the best any fixed ceiling could do.
    """
    if sessions < 1 or attack_every < 1 or fleet_minutes < 0:
        raise CommandError("--sessions and --attack-every must be at least 1, --fleet-minutes 0")
    engine_rules = load_engine_rules(rules, tuning)
    pipeline = make_pipeline("redact", DeadLetter(None))
    events = list(generate_agent_sessions(sessions, seed=seed, attack_every=attack_every))
    report: dict[str, Any] = {"sessions": score_sessions(engine_rules, events, pipeline)}
    dojo_file = corpora / "agentdojo"
    if dojo_file.is_dir():
        try:
            report["agentdojo"] = score_agentdojo(engine_rules, corpora, pipeline)
        except (OSError, KeyError, ValueError) as exc:
            raise CommandError(f"{dojo_file}: cannot read AgentDojo ground truth: {exc}") from exc
    else:
        report["agentdojo"] = None
    report["fleet"] = None
    if fleet_minutes:
        fleet = generate_agent_fleet(fleet_minutes, seed=seed)
        report["fleet"] = score_fleet(engine_rules, fleet, pipeline)
    report["targets"] = target_checks(report)
    missed = [name for name, item in report["targets"].items() if not item["met"]]
    if output_format == "json":
        print_json(report)
    else:
        rows = report["sessions"]["scenarios"] + [report["sessions"]["benign_sessions"]]
        console.print(_table("Generated agent/MCP sessions", rows, "rate"))
        if report["agentdojo"]:
            dojo = report["agentdojo"]
            rows = dojo["attack_templates"] + [dojo["ordinary_tool_calls"]]
            console.print(_table("AgentDojo tool calls in trace context", rows, "rate"))
        else:
            console.print(f"AgentDojo not scored: {dojo_file} not found")
        if report["fleet"]:
            _print_fleet(report["fleet"])
        for name, item in report["targets"].items():
            value = "n/a" if item["value"] is None else f"{item['value']:.2%}"
            mark = "ok" if item["met"] else "MISSED"
            console.print(f"{mark:6} {name} = {value} (target {item['target']:.1%})")
    sys.exit(EXIT_FINDINGS if check and missed else EXIT_OK)
