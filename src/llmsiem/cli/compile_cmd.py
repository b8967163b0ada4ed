"""``llmsiem compile``: Sigma rules to SIEM queries through pySigma backends."""

from __future__ import annotations

import sys
from pathlib import Path

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
from llmsiem.compiler.compile import CompileResult, compile_pack
from llmsiem.compiler.output import write_result
from llmsiem.compiler.targets import TARGETS
from llmsiem.rulepack import RuleLoadError


@click.command("compile")
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    type=click.Choice([*TARGETS, "all"]),
    help="Target to compile for; repeat it, or use 'all'.",
)
@rules_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/rules"),
    show_default=True,
    help="Output directory; each target writes into OUT/<target>/.",
)
@tuning_option
@format_option
def compile_cmd(
    targets: tuple[str, ...],
    rules: Path | None,
    out: Path,
    tuning: Path | None,
    output_format: str,
) -> None:
    """Compile the Sigma rule pack for one or more SIEM targets.

    Rules a backend cannot express (for example a correlation type) are skipped with a
    per-rule message; a rule that fails to compile is reported with its backend and makes
    the exit code 1. Exit code 2 means the pack or a pipeline could not be loaded.
    """
    names = list(TARGETS) if "all" in targets else list(dict.fromkeys(targets))
    results: list[CompileResult] = []
    written: dict[str, list[str]] = {}
    for name in names:
        try:
            result = compile_pack(name, rules, tuning)
        except RuleLoadError as exc:
            raise CommandError(str(exc)) from exc
        results.append(result)
        written[name] = [str(p) for p in write_result(result, out)]
    failed = sum(len(r.failed) for r in results)
    if output_format == "json":
        print_json(
            {
                "targets": [
                    {
                        "target": r.target,
                        "compiled": len(r.compiled),
                        "skipped": [i.__dict__ for i in r.issues if i.skipped],
                        "failed": [i.__dict__ for i in r.failed],
                        "files": written[r.target],
                    }
                    for r in results
                ]
            }
        )
    else:
        table = Table(title=f"Compiled rules → {out}")
        for column in ("target", "compiled", "skipped", "failed", "output"):
            table.add_column(column)
        for r in results:
            skipped = len(r.issues) - len(r.failed)
            table.add_row(
                r.target,
                str(len(r.compiled)),
                str(skipped),
                str(len(r.failed)),
                str(out / r.target),
            )
        console.print(table)
        for r in results:
            for issue in r.issues:
                style = "yellow" if issue.skipped else "red"
                console.print(f"[{style}]{issue}[/]", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)
