"""``llmsiem eval``: detection efficacy of the rule pack on labelled corpora."""

from __future__ import annotations

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
    default_corpora,
    err_console,
    format_option,
    load_engine_rules,
    make_pipeline,
    print_json,
    rules_option,
    tuning_option,
)
from llmsiem.deadletter import DeadLetter
from llmsiem.evaluation import (
    DEFAULT_SPLIT_SEED,
    SPLITS,
    evaluate_pack,
    load_cases,
    target_checks,
    write_rule_table,
)
from llmsiem.rulepack import RuleSources


def _default_extra() -> tuple[Path, ...]:
    return tuple(sorted(Path("corpora/hard_negatives").glob("*.jsonl")))


def _describe(name: str, item: dict[str, Any]) -> str:
    value = "n/a" if item["value"] is None else f"{item['value']:.2%}"
    where = f" ({item['where']})" if item.get("where") else ""
    bound = ">=" if "recall" in name else "<="
    return f"{name}{where} = {value} (target {bound} {item['target']:.1%})"


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
    default=default_corpora,
    show_default="$LLMSIEM_CORPORA or ../shared/corpora/dev",
    help="Folder of the labelled development corpora.",
)
@click.option(
    "--extra-corpus",
    "extra",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    default=_default_extra,
    show_default="corpora/hard_negatives/*.jsonl",
    help="Labelled rows (id, text, label, set) scored with the corpora: a JSONL or Parquet "
    "file, or a folder of Parquet files (hive partitions such as set=xstest/); repeatable.",
)
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="all",
    show_default=True,
    help="Score every row, or only the seeded tuning or check half.",
)
@click.option(
    "--split-seed", default=DEFAULT_SPLIT_SEED, show_default=True, help="Seed of the split."
)
@click.option(
    "--rule-table",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write per-rule TP/FP counts per benign set here (.csv, or .md for Markdown).",
)
@rules_option
@tuning_option
@click.option("--check", is_flag=True, help="Exit 1 when an efficacy target is missed.")
@format_option
def eval_cmd(
    corpora: Path,
    extra: tuple[Path, ...],
    split: str,
    split_seed: str,
    rule_table: Path | None,
    rules: RuleSources | None,
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
        cases = load_cases(corpora, extra, split, split_seed)
    except (OSError, KeyError, ValueError) as exc:
        raise CommandError(f"{corpora}: cannot read corpora: {exc}") from exc
    with console.status(f"scoring {len(cases):,} labelled cases"):
        pipeline = make_pipeline("redact", DeadLetter(None))
        report = evaluate_pack(load_engine_rules(rules, tuning), cases, pipeline)
    checks = target_checks(report)
    report["split"] = {"half": split, "seed": split_seed}
    report["targets"] = checks
    if rule_table is not None:
        try:
            write_rule_table(report, rule_table)
        except OSError as exc:
            raise CommandError(f"{rule_table}: cannot write the rule table: {exc}") from exc
    if output_format == "json":
        print_json(report)
    else:
        console.print(_table("Recall per attack family", report["attack_families"], "recall"))
        console.print(_table("False positives per benign set", report["benign_sets"], "fpr"))
        console.print(_table("False positives per benign kind", report["benign_kinds"], "fpr"))
        console.print(
            f"macro recall {report['macro_recall']:.1%}; precision {report['precision']:.2%}; "
            f"{report['cases']:,} cases ({split} rows, seed {split_seed!r})"
        )
        for name, item in checks.items():
            mark = "[green]✓[/]" if item["met"] else "[red]✗[/]"
            console.print(f"{mark} {_describe(name, item)}")
    missed = [name for name, item in checks.items() if not item["met"]]
    if check and missed:
        err_console.print(
            "efficacy targets missed: " + "; ".join(_describe(n, checks[n]) for n in missed)
        )
    sys.exit(EXIT_FINDINGS if check and missed else EXIT_OK)
