"""``llmsiem eval``: detection efficacy of the rule pack on labelled corpora."""

from __future__ import annotations

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
    rules_option,
    tuning_option,
)
from llmsiem.cli.detect_cmd import load_engine_rules
from llmsiem.evaluation import evaluate_pack, load_cases
from llmsiem.scrub import Scrubber

TARGETS = {
    "macro_recall": 0.85,
    "jailbreak_recall": 0.90,
    "ordinary_fpr": 0.005,
    "hard_negative_fpr": 0.05,
}


def _default_corpora() -> Path:
    configured = os.environ.get("LLMSIEM_CORPORA")
    return Path(configured) if configured else Path("../shared/corpora/dev")


def target_checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each efficacy target with its measured value and whether it is met."""
    families = {f["name"]: f for f in report["attack_families"]}
    kinds = {k["name"]: k for k in report["benign_kinds"]}
    measured = {
        "macro_recall": report["macro_recall"],
        "jailbreak_recall": families.get("jailbreak", {}).get("recall"),
        "ordinary_fpr": kinds.get("ordinary", {}).get("fpr"),
        "hard_negative_fpr": kinds.get("hard_negative", {}).get("fpr"),
    }
    checks = {}
    for name, target in TARGETS.items():
        value = measured[name]
        met = value is not None and (value >= target if "recall" in name else value <= target)
        checks[name] = {"value": value, "target": target, "met": met}
    return checks


def _table(title: str, rows: list[dict[str, Any]], rate: str) -> Table:
    table = Table(title=title)
    for column in ("set", "n", "flagged", rate, "95% CI", "top rules"):
        table.add_column(column, justify="left" if column in ("set", "top rules") else "right")
    for row in rows:
        low, high = row["ci95"]
        rules = ", ".join(f"{k} ({v})" for k, v in list(row["rules"].items())[:3])
        table.add_row(
            row["name"],
            str(row["total"]),
            str(row["flagged"]),
            f"{row[rate]:.1%}",
            f"{low:.1%} to {high:.1%}",
            rules,
        )
    return table


@click.command("eval")
@click.option(
    "--corpora",
    type=click.Path(path_type=Path),
    default=_default_corpora,
    show_default="$LLMSIEM_CORPORA or ../shared/corpora/dev",
    help="Folder of the labelled development corpora.",
)
@rules_option
@tuning_option
@click.option("--check", is_flag=True, help="Exit 1 when an efficacy target is missed.")
@format_option
def eval_cmd(
    corpora: Path,
    rules: Path | None,
    tuning: Path | None,
    check: bool,
    output_format: str,
) -> None:
    """Score the rule pack on labelled attack and benign corpora.

    Every row becomes the telemetry an application would log (prompt, prompt with retrieved
    context, or tool call), is scrubbed like production telemetry and run through the
    engine. Prints recall per attack family (95% Wilson interval), false-positive rate per
    benign set with the rules responsible, macro recall and precision.
    """
    if not corpora.is_dir():
        raise CommandError(f"{corpora}: corpora folder not found (set --corpora)")
    try:
        cases = load_cases(corpora)
    except (OSError, KeyError, ValueError) as exc:
        raise CommandError(f"{corpora}: cannot read corpora: {exc}") from exc
    with console.status(f"scoring {len(cases):,} labelled cases"):
        report = evaluate_pack(load_engine_rules(rules, tuning), cases, Scrubber())
    checks = target_checks(report)
    report["targets"] = checks
    if output_format == "json":
        print_json(report)
    else:
        console.print(_table("Recall per attack family", report["attack_families"], "recall"))
        console.print(_table("False positives per benign set", report["benign_sets"], "fpr"))
        console.print(_table("False positives per benign kind", report["benign_kinds"], "fpr"))
        console.print(
            f"macro recall {report['macro_recall']:.1%}; precision {report['precision']:.2%}; "
            f"{report['cases']:,} cases"
        )
        for name, item in checks.items():
            mark = "[green]✓[/]" if item["met"] else "[red]✗[/]"
            console.print(f"{mark} {name} = {item['value']:.2%} (target {item['target']:.1%})")
    missed = [name for name, item in checks.items() if not item["met"]]
    sys.exit(EXIT_FINDINGS if check and missed else EXIT_OK)
