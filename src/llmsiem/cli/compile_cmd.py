"""``llmsiem compile``: Sigma rules to SIEM queries through pySigma backends."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    err_console,
    format_option,
    load_pack,
    override_json,
    print_json,
    rules_option,
    tuning_option,
)
from llmsiem.compiler.targets import TARGETS

if TYPE_CHECKING:  # imported where used: ``compile --help`` must not load pySigma
    from llmsiem.compiler.compile import CompileResult
    from llmsiem.rulepack import RuleSources


@click.command("compile")
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    type=click.Choice([*TARGETS, "all"]),
    help="Target to compile for; repeat it, or use 'all' (every registered target: the "
    "built-ins and those of installed llmsiem.targets plugins).",
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
@click.option(
    "--verbose", "-v", is_flag=True, help="Print every per-rule skip message (on stderr)."
)
@click.option(
    "--coverage",
    "show_coverage",
    is_flag=True,
    help="Print the rule x target coverage table as Markdown instead of the summary.",
)
@format_option
def compile_cmd(
    targets: tuple[str, ...],
    rules: RuleSources | None,
    out: Path,
    tuning: Path | None,
    verbose: bool,
    show_coverage: bool,
    output_format: str,
) -> None:
    """Compile the Sigma rule pack for one or more SIEM targets.

    Every rule is counted once per target: compiled, compiled only inside the correlation
    that uses it (Sigma ``generate: false``), skipped (the target cannot express it) or
    failed. Skip messages go to stderr with --verbose; failures always go to stderr and make
    the exit code 1. Exit code 2 means the pack or a pipeline could not be loaded.
    """
    from rich.table import Table

    from llmsiem.compiler.compile import PackCompiler
    from llmsiem.compiler.coverage import coverage_markdown, totals
    from llmsiem.compiler.output import write_result
    from llmsiem.plugins import PluginError
    from llmsiem.rulepack import RuleLoadError

    names = list(TARGETS) if "all" in targets else list(dict.fromkeys(targets))
    pack = load_pack(rules)
    results: list[CompileResult] = []
    written: dict[str, list[str]] = {}
    for name in names:
        try:
            result = PackCompiler(pack, TARGETS.get(name), tuning).compile()
        except (RuleLoadError, PluginError) as exc:
            raise CommandError(str(exc)) from exc
        results.append(result)
        written[name] = [str(p) for p in write_result(result, out)]
    failed = sum(len(r.failed) for r in results)
    counts = totals(results)
    if output_format == "json":
        print_json(
            {
                "overrides": [override_json(o) for o in pack.overrides],
                "targets": [
                    {
                        "target": r.target,
                        "compiled": len(r.compiled),
                        "counts": counts[r.target],
                        "in_correlation": [i.__dict__ for i in r.base_only],
                        "skipped": [i.__dict__ for i in r.issues if i.skipped],
                        "failed": [i.__dict__ for i in r.failed],
                        "files": written[r.target],
                    }
                    for r in results
                ],
            }
        )
    elif show_coverage:
        sys.stdout.write(coverage_markdown(results))
    else:
        table = Table(title=f"Compiled rules → {out}")
        for column in ("target", "compiled", "in correlation", "skipped", "failed", "total"):
            table.add_column(column, justify="left" if column == "target" else "right")
        table.add_column("output")
        for r in results:
            row = counts[r.target]
            table.add_row(
                r.target,
                *(str(row[k]) for k in ("compiled", "in correlation", "skipped", "failed")),
                str(row["total"]),
                str(out / r.target),
            )
        console.print(table)
    _report_issues(results, verbose)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _report_issues(results: list[CompileResult], verbose: bool) -> None:
    """Failures always, skips with --verbose (else a one-line count), all on stderr."""
    from rich.markup import escape

    skipped = 0
    for r in results:
        for issue in r.issues:
            if not issue.skipped:
                err_console.print(f"[red]{escape(str(issue))}[/]", highlight=False, soft_wrap=True)
            elif verbose:
                err_console.print(
                    f"[yellow]{escape(str(issue))}[/]", highlight=False, soft_wrap=True
                )
            else:
                skipped += 1
    if skipped:
        err_console.print(
            f"{skipped} rule/target pairs skipped (the target cannot express the rule): "
            "--verbose lists them, --coverage shows the table.",
            highlight=False,
            soft_wrap=True,
        )
