"""Shared pieces of the command line: exit codes, options, consoles, pipeline and rules."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from llmsiem.deadletter import DeadLetter
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.levels import rank
from llmsiem.pipeline import Pipeline
from llmsiem.pipeline.events import source_formats
from llmsiem.rulepack import RuleLoadError, RulePack
from llmsiem.scrub import MissingScrubKeyError, Scrubber

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


class CommandError(click.ClickException):
    """A failure the user can act on; exits with code 2."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        err_console.print(f"[bold red]error:[/] {self.format_message()}", highlight=False)


def format_option(func: F) -> F:
    """``--format table|json``: rich tables for people, JSON on stdout for scripts."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Output format; json prints one JSON document on stdout.",
    )(func)


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


source_format_option = click.option(
    "--from",
    "source_format",
    type=click.Choice(source_formats()),
    default="auto",
    show_default=True,
    help="Input format (a registered source); auto sniffs each file.",
)
scrub_option = click.option(
    "--scrub",
    "scrub_mode",
    type=click.Choice(["redact", "hash", "keep"]),
    default="redact",
    show_default=True,
    help="Secrets/PII: replace with typed markers, markers with HMAC, or leave the text "
    "and record the types only.",
)
rules_option = click.option(
    "--rules",
    type=click.Path(exists=True, path_type=Path),
    help="Rule file or folder (default: the bundled pack).",
)
tuning_option = click.option(
    "--tuning",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your tuning pipeline (values for the allowlist placeholders), applied last.",
)
dead_letter_option = click.option(
    "--dead-letter",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("llmsiem-deadletter.jsonl"),
    show_default=True,
    help="Records that cannot be read or normalized go here with file, line and reason.",
)


def make_pipeline(scrub_mode: str, letters: DeadLetter, source_format: str = "auto") -> Pipeline:
    """The input pipeline of a command, from its --scrub and --from options."""
    try:
        scrubber = Scrubber(scrub_mode)  # type: ignore[arg-type]
    except MissingScrubKeyError as exc:
        raise CommandError(str(exc)) from exc
    return Pipeline(scrubber, letters, source_format)


def alert_table(alerts: list[dict[str, Any]]) -> Table:
    """Alerts counted by rule and level, most severe first."""
    counts = Counter(
        (
            a["llmsiem"]["alert"]["level"],
            a["llmsiem"]["alert"]["title"],
            a["llmsiem"]["alert"]["kind"],
        )
        for a in alerts
    )
    table = Table(title=f"{len(alerts)} alerts")
    for column in ("level", "rule", "kind", "alerts"):
        table.add_column(column, justify="right" if column == "alerts" else "left")
    for (level, title, kind), count in sorted(
        counts.items(), key=lambda item: (-rank(item[0][0]), -item[1])
    ):
        table.add_row(level, title, kind, str(count))
    return table


def load_engine_rules(rules: Path | None, tuning: Path | None) -> EngineRules:
    """Compile the pack for the engine; rules that fail are reported on stderr by id."""
    try:
        compiled = compile_for_engine(RulePack.load(rules), tuning)
    except RuleLoadError as exc:
        raise CommandError(str(exc)) from exc
    for issue in compiled.issues:
        err_console.print(f"[yellow]{issue}[/]", highlight=False, soft_wrap=True)
    return compiled
