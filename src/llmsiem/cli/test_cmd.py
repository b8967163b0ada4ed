"""``llmsiem test``: run rules' samples through the engine (and compile targets) per case."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import click
from rich import box
from rich.markup import escape
from rich.table import Table
from sigma.correlations import SigmaCorrelationRule

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    config_option,
    configured,
    console,
    format_option,
    load_pack,
    override_json,
    print_json,
    rule_config,
)
from llmsiem.compiler.compile import CompileResult, PackCompiler
from llmsiem.compiler.targets import TARGETS
from llmsiem.conformance.corpus import CorrelationCase, SampleCorpus, SampleOrigin
from llmsiem.conformance.verdicts import Verdicts, engine_verdicts
from llmsiem.plugins import PluginError, load_reference
from llmsiem.rule_samples import SampleError, load_samples_file, samples_file
from llmsiem.rulepack import AnyRule, RuleLoadError, RulePack, RuleSources

FIRES, SILENT = "fires", "silent"
Evaluator = Callable[[CompileResult, SampleCorpus], Verdicts]
# Column headings of the verdict table (other targets: their name).
SHORT_NAMES = {
    "elastic-lucene": "lucene",
    "opensearch-lucene": "os-lucene",
    "elastic-esql": "esql",
    "elastic-eql": "eql",
    "splunk-spl": "spl",
    "loki-logql": "logql",
}


@dataclass
class CaseRow:
    """One sample case: its label and the verdict of the engine and of each target."""

    rule: str
    case: str
    expected: str
    verdicts: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v == self.expected for v in self.verdicts.values() if v in (FIRES, SILENT))

    @property
    def failed(self) -> bool:
        return not self.passed or self.verdicts.get("engine") not in (FIRES, SILENT)


def _corpus(
    tested: list[tuple[Path, AnyRule]], samples_root: Path | None
) -> tuple[SampleCorpus, list[CaseRow], dict[str, str]]:
    """The tested rules' samples as one corpus, the rows to fill, and per-rule errors."""
    corpus, rows, errors = SampleCorpus(), [], {}
    for path, rule in tested:
        name = rule.name or str(rule.id)
        try:
            samples = load_samples_file(samples_file(path, name, samples_root), name)
        except SampleError as exc:
            errors[name] = str(exc)
            continue
        for key, cases in (
            ("true_positives", samples.true_positives),
            ("true_negatives", samples.true_negatives),
        ):
            for index, events in enumerate(cases):
                label = f"{name}:{key}[{index}]"
                for event in events:
                    corpus.add(event, SampleOrigin(name, label, "sample"))
                if isinstance(rule, SigmaCorrelationRule):
                    expected = key == "true_positives"
                    corpus.correlation_cases.append(CorrelationCase(name, label, expected, events))
                rows.append(CaseRow(name, label, FIRES if key == "true_positives" else SILENT))
    return corpus, rows, errors


def _verdict(verdicts: Verdicts, corpus: SampleCorpus, row: CaseRow) -> str:
    """fires / silent / partial k/n / error / skipped, of one evaluator on one case."""
    if row.rule in verdicts.errors:
        return "error"
    if (row.rule, row.case) in verdicts.correlations:
        return FIRES if verdicts.correlations[row.rule, row.case] else SILENT
    if row.rule not in verdicts.detections:
        return "skipped"
    ids = {i for i, origin in corpus.origins.items() if origin.case == row.case}
    matched = len(ids & verdicts.detections[row.rule])
    if matched == len(ids):
        return FIRES
    return SILENT if matched == 0 else f"partial {matched}/{len(ids)}"


def _target_verdicts(
    target: str, pack: RulePack, corpus: SampleCorpus, tuning: Path | None
) -> Verdicts | str:
    """A target's verdicts, or why they are not available (missing extra, no runtime)."""
    reference = TARGETS[target].evaluator
    assert reference is not None  # _targets keeps only targets with an evaluator
    try:
        result: CompileResult = PackCompiler(pack, TARGETS[target], tuning).compile()
    except RuleLoadError as exc:
        raise CommandError(str(exc)) from exc
    try:
        evaluate = cast(Evaluator, load_reference(reference))
    except (ImportError, AttributeError) as exc:
        return f"not available: {reference}: {exc}"
    try:
        return evaluate(result, corpus)
    except (ImportError, OSError, RuntimeError) as exc:
        return f"not available: {exc}"


def _targets(value: str | None) -> list[str]:
    """The targets of ``--targets``: named ones, or all registered targets with an evaluator."""
    if not value:
        return []
    try:
        evaluable = [name for name in TARGETS if TARGETS[name].evaluator]
    except PluginError as exc:
        raise CommandError(str(exc)) from exc
    names = evaluable if value == "all" else [n.strip() for n in value.split(",")]
    unknown = [n for n in names if n not in evaluable]
    if unknown:
        raise CommandError(
            f"--targets: no evaluator for {', '.join(unknown)}; choose from "
            f"{', '.join(evaluable)} or all"
        )
    return names


@click.command("test")
@click.argument("rule_or_dir", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--with-pack/--without-pack",
    default=False,
    envvar="LLMSIEM_WITH_PACK",
    help="Load the bundled pack too (base rules of your correlations, overrides). Env: "
    "LLMSIEM_WITH_PACK=1; config: with-pack = true.",
)
@config_option
@click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with <rule name>/samples.yml, for rules without a <rule>.samples.yml "
    "beside them (the bundled rules carry theirs).",
)
@click.option(
    "--targets",
    "target_list",
    metavar="all|NAME,...",
    help="Also evaluate the compiled queries of these targets: all, or names of registered "
    "targets with an evaluator (built-in: elastic-lucene, opensearch-lucene, elastic-esql, "
    "elastic-eql, splunk-spl, loki-logql).",
)
@click.option(
    "--tuning",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your tuning pipeline, applied last.",
)
@format_option
def test_cmd(
    rule_or_dir: Path,
    with_pack: bool,
    samples: Path | None,
    target_list: str | None,
    tuning: Path | None,
    config: Path | None,
    output_format: str,
) -> None:
    """Run the samples of the rules in RULE_OR_DIR and print each case's verdict.

    The rules of the config file (``rules = [...]``) are loaded before RULE_OR_DIR, so its
    correlations find their base rules there; only RULE_OR_DIR's rules are tested.

    A true positive passes when the rule matches every event of the case (a correlation:
    fires), a true negative when it matches none. Exit 1 when any case fails on the engine
    or on a target; a target whose evaluator cannot run here is reported "not available".
    """
    targets = _targets(target_list)
    settings = rule_config(config)
    with_pack = configured("with_pack", with_pack, settings.with_pack)
    pack = load_pack(RuleSources((*settings.rules, rule_or_dir), with_pack))
    mine = rule_or_dir.resolve()
    try:
        tested = [
            (f.path, rule)
            for f, rule in pack.parse_all()
            if f.path.resolve() == mine or mine in f.path.resolve().parents
        ]
    except RuleLoadError as exc:
        raise CommandError(str(exc)) from exc
    if not tested:
        raise CommandError(f"{rule_or_dir}: no rule file found")
    corpus, rows, errors = _corpus(tested, samples)
    try:
        evaluators: dict[str, Verdicts | str] = {"engine": engine_verdicts(corpus, pack)}
    except ValueError as exc:
        raise CommandError(f"the engine cannot run these rules: {exc}") from exc
    for target in targets:
        evaluators[target] = _target_verdicts(target, pack, corpus, tuning)
    for row in rows:
        for name, verdicts in evaluators.items():
            row.verdicts[name] = (
                _verdict(verdicts, corpus, row) if isinstance(verdicts, Verdicts) else "n/a"
            )
    failed = bool(errors) or any(row.failed for row in rows)
    unavailable = {n: v for n, v in evaluators.items() if isinstance(v, str)}
    if output_format == "json":
        print_json(
            {
                "overrides": [override_json(o) for o in pack.overrides],
                "not_available": unavailable,
                "errors": errors,
                "cases": [{**row.__dict__, "passed": not row.failed} for row in rows],
                "passed": not failed,
            }
        )
    else:
        _print_table(rows, list(evaluators), errors, unavailable)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _print_table(
    rows: list[CaseRow], columns: list[str], errors: dict[str, str], unavailable: dict[str, str]
) -> None:
    table = Table(title=f"Sample verdicts ({len(rows)} cases)", box=box.SIMPLE_HEAD)
    table.add_column("rule", overflow="fold")
    for column in ("case", "expected", *columns, "result"):
        table.add_column(SHORT_NAMES.get(column, column), no_wrap=True)
    previous = ""
    for row in rows:
        cells = [
            v if v in (row.expected, "skipped", "n/a") else f"[red]{v}"
            for v in (row.verdicts[c] for c in columns)
        ]
        key, index = row.case.split(":", 1)[1].rstrip("]").split("[")
        case = f"{'TP' if key == 'true_positives' else 'TN'} {index}"
        result = "[red]FAIL" if row.failed else "[green]pass"
        name = row.rule if row.rule != previous else ""
        table.add_row(name, case, row.expected, *cells, result)
        previous = row.rule
    console.print(table)
    for name, reason in unavailable.items():
        console.print(f"[yellow]{name}: {escape(reason)}", highlight=False, soft_wrap=True)
    for rule, message in errors.items():
        console.print(f"[red]✗ {escape(rule)}: {escape(message)}", highlight=False, soft_wrap=True)
