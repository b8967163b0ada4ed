"""``llmsiem validate``: check the rule pack (pySigma validators and pack conventions)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from rich.table import Table

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    console,
    format_option,
    print_json,
    rules_option,
)
from llmsiem.resources import content_dir
from llmsiem.rulecheck import validate_pack
from llmsiem.rulepack import RulePack


@click.command("validate")
@rules_option
@click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with one <rule name>/samples.yml per rule (default: the bundled samples).",
)
@format_option
def validate_cmd(rules: Path | None, samples: Path | None, output_format: str) -> None:
    """Validate the rule pack offline; exit 1 on any finding.

    Checks: pySigma core validators (offline), unique ids/titles/names, required SigmaHQ
    metadata, ATLAS/OWASP tags against bundled catalogues, every field in the schema,
    true-positive and true-negative samples present and valid, level-to-severity mapping.
    """
    pack = RulePack.load(rules)
    findings = validate_pack(pack, samples or content_dir("rule_samples"))
    if output_format == "json":
        print_json({"rules": len(pack.files), "findings": [f.__dict__ for f in findings]})
    else:
        for finding in findings:
            console.print(f"[red]✗[/] {finding}", highlight=False, soft_wrap=True)
        table = Table(title="Rule pack validation")
        table.add_column("check")
        table.add_column("findings", justify="right")
        counts = Counter(f.check for f in findings)
        for check, count in sorted(counts.items()):
            table.add_row(check, str(count))
        table.add_row("[bold]rules checked", str(len(pack.files)))
        console.print(table)
        if not findings:
            console.print(f"[green]✓ {len(pack.files)} rules valid[/]")
    sys.exit(EXIT_FINDINGS if findings else EXIT_OK)
