"""``llmsiem validate``: check the rule pack (pySigma validators and pack conventions)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    format_option,
    load_pack,
    override_json,
    print_json,
    rules_option,
)

if TYPE_CHECKING:  # imported where used: ``validate --help`` must not load pySigma
    from llmsiem.rulecheck import Finding
    from llmsiem.rulepack import RulePack, RuleSources


@click.command("validate")
@rules_option
@click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with one <rule name>/samples.yml per rule, for rules without a "
    "<rule>.samples.yml beside them (the bundled rules carry theirs).",
)
@click.option(
    "--attack-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your own MITRE ATT&CK STIX bundle (e.g. enterprise-attack.json) instead of the "
    "bundled subset; ATT&CK ids missing from the data in use are warnings.",
)
@format_option
def validate_cmd(
    rules: RuleSources | None, samples: Path | None, attack_data: Path | None, output_format: str
) -> None:
    """Validate the rule pack offline; exit 1 on any finding.

    Checks: pySigma core validators (offline), unique ids/titles/names, required SigmaHQ
    metadata, ATLAS/OWASP tags against bundled catalogues (an ATLAS tag is required when an
    OWASP tag names an attack on the model: LLM01, LLM04, LLM07, LLM08), ATT&CK tags against
    the bundled subset or --attack-data (a well-formed id missing from it is a warning),
    every field in the schema, true-positive and true-negative samples present and valid,
    level-to-severity mapping, and every sample run through the embedded engine: a true
    negative that fires or a true positive that misses is a finding (check
    "sample-verdict", naming rule and case).
    """
    from llmsiem.rulecheck import WARNING_CHECKS, validate_pack
    from llmsiem.sigma_offline import use_attack_data

    pack = load_pack(rules)
    if attack_data:
        try:
            use_attack_data(attack_data)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    findings = validate_pack(pack, samples)
    if not any(f.check == "load" for f in findings):
        findings += sample_verdict_findings(pack, samples, findings)
    warnings = [f for f in findings if f.check in WARNING_CHECKS]
    findings = [f for f in findings if f.check not in WARNING_CHECKS]
    if output_format == "json":
        print_json(
            {
                "rules": len(pack.files),
                "overrides": [override_json(o) for o in pack.overrides],
                "findings": [f.__dict__ for f in findings],
                "warnings": [f.__dict__ for f in warnings],
            }
        )
    else:
        for warning in warnings:
            console.print(f"[yellow]![/] {escape(str(warning))}", highlight=False, soft_wrap=True)
        for finding in findings:
            console.print(f"[red]✗[/] {escape(str(finding))}", highlight=False, soft_wrap=True)
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


def sample_verdict_findings(
    pack: RulePack, samples_root: Path | None, findings: list[Finding]
) -> list[Finding]:
    """Engine verdicts on every rule's samples, as findings (unreadable samples are already
    reported by the samples check, so they are not repeated)."""
    from llmsiem.rulecheck import Finding
    from llmsiem.sample_verdicts import check_pack_samples

    path_of = {rule.name: str(file.path.relative_to(pack.root)) for file, rule in pack.parse_all()}
    reported = {f.rule for f in findings if f.check == "samples"}
    return [
        Finding(
            path_of.get(failure.rule, "-"),
            failure.rule,
            "sample-verdict",
            f"{failure.case}: {failure.message}",
        )
        for failure in check_pack_samples(pack, samples_root)
        if failure.rule not in reported
    ]
