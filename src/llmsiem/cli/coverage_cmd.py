"""``llmsiem coverage``: ATLAS Navigator layer and HTML coverage report of the rule pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from llmsiem.cli.common import CommandError, console
from llmsiem.coverage import (
    collect,
    efficacy,
    html_report,
    layer_errors,
    load_catalogue,
    navigator_layer,
)
from llmsiem.rulepack import RuleLoadError, RulePack

LAYER_FILE = "llmsiem-atlas-layer.json"
REPORT_FILE = "llmsiem-coverage.html"


@click.command("coverage")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help=f"Folder to write {LAYER_FILE} and {REPORT_FILE} into.",
)
@click.option(
    "--eval-report",
    "reports",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="JSON report of `llmsiem eval` or `llmsiem agent-eval` (--format json); repeatable.",
)
def coverage_cmd(out_dir: Path, reports: tuple[Path, ...]) -> None:
    """Write the pack's MITRE ATLAS Navigator layer and an HTML coverage report.

    The layer (Navigator layer format 4.5, domain atlas-atlas) scores each ATLAS technique by
    its number of alerting rules; the HTML lists rules per OWASP LLM category and per ATLAS
    technique, with recall and false-positive rate from the given eval reports.
    """
    loaded: list[dict[str, Any]] = []
    for path in reports:
        try:
            loaded.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path}: cannot read eval report: {exc}") from exc
    try:
        rules = collect(RulePack.load())
        measured = efficacy(loaded, tuple(r.name for r in rules))
    except RuleLoadError as exc:
        raise CommandError(str(exc)) from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise CommandError(f"eval report not understood: {exc}") from exc
    catalogue = load_catalogue()
    layer = navigator_layer(rules, catalogue, measured)
    errors = layer_errors(layer)
    if errors:
        raise CommandError("generated layer is not a valid Navigator layer: " + "; ".join(errors))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LAYER_FILE).write_text(json.dumps(layer, indent=2) + "\n", encoding="utf-8")
    (out_dir / REPORT_FILE).write_text(html_report(rules, catalogue, measured), encoding="utf-8")
    covered = {o for r in rules for o in r.owasp}
    console.print(
        f"{len(rules)} alerting rules, {len(layer['techniques'])} ATLAS techniques, "
        f"{len(covered)}/{len(catalogue.owasp)} OWASP categories -> {out_dir}"
    )
