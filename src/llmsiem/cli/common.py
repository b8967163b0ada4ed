"""Shared pieces of the command line: exit codes, options, consoles, pipeline and rules."""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # imported where used: ``llmsiem CMD --help`` must not load them
    from rich.table import Table

    from llmsiem.cli.config_file import RuleConfig
    from llmsiem.deadletter import DeadLetter
    from llmsiem.engine.rules import EngineRules
    from llmsiem.pipeline import Pipeline
    from llmsiem.rulepack import Override, RulePack, RuleSources

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


class CommandError(click.ClickException):
    """A failure the user can act on; exits with code 2."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        err_console.print(
            f"[bold red]error:[/] {escape(self.format_message())}", highlight=False, soft_wrap=True
        )


@contextmanager
def streaming_collections(young: int = 10_000) -> Iterator[None]:
    """The cyclic garbage collector's young generation made ``young`` allocations deep.

    A streaming command builds a few dozen acyclic dicts per event and keeps a batch of
    events alive at a time; at the default depth (700) every batch outlives two young
    collections and lands in the old generation, whose full collections then walk the
    process's whole heap every few hundred events. The previous thresholds are restored.
    """
    previous = gc.get_threshold()
    gc.set_threshold(young, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


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


def default_corpora() -> Path:
    """The labelled corpora ``eval`` and ``agent-eval`` read: ``LLMSIEM_CORPORA`` or
    ``../shared/corpora/dev``."""
    configured = os.environ.get("LLMSIEM_CORPORA")
    return Path(configured) if configured else Path("../shared/corpora/dev")


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


class SourceFormat(click.Choice[str]):
    """``--from`` values (auto and the registered sources), read from the source registry
    only when the option is converted or a command's help is shown, so ``llmsiem --help``
    and commands that do not read inputs stay fast."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from llmsiem.pipeline.sources import source_formats

        return tuple(source_formats())

    @choices.setter
    def choices(self, value: Any) -> None:
        """Set by ``click.Choice.__init__``; the registry is the source of truth."""

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.choices) + "]"


source_format_option = click.option(
    "--from",
    "source_format",
    type=SourceFormat(),
    default="auto",
    show_default=True,
    help="Input format: auto (sniffs each file) or a registered source.",
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


def rules_option(func: F) -> F:
    """``--rules PATH`` (repeatable), ``--with-pack/--without-pack`` and ``--config FILE``;
    the command gets ``rules``, a ``RuleSources`` (None when nothing is set: the bundled
    pack alone). Per key: command line > environment variable > config file > default."""

    @functools.wraps(func)
    def wrapper(
        *args: Any, rules: tuple[Path, ...], with_pack: bool, config: Path | None, **kwargs: Any
    ) -> Any:
        from llmsiem.rulepack import RuleSources

        settings = rule_config(config)
        rules = configured("rules", rules, settings.rules or None)
        with_pack = configured("with_pack", with_pack, settings.with_pack)
        sources = RuleSources(rules, with_pack) if rules or with_pack else None
        return func(*args, rules=sources, **kwargs)

    with_pack = click.option(
        "--with-pack/--without-pack",
        default=False,
        envvar="LLMSIEM_WITH_PACK",
        help="Load the bundled pack first, then --rules; a rule of yours with the id or "
        "name of a pack rule overrides it (reported on stderr). Env: LLMSIEM_WITH_PACK=1; "
        "config: with-pack = true.",
    )
    paths = click.option(
        "--rules",
        multiple=True,
        envvar="LLMSIEM_RULES",
        type=click.Path(exists=True, path_type=Path),
        help="Rule file or folder; repeat it for several (later ones override earlier "
        "rules with the same id or name). Default: the bundled pack. Env: LLMSIEM_RULES "
        "(paths separated by ':'); config: rules = [...].",
    )
    return paths(with_pack(config_option(wrapper)))  # type: ignore[return-value]


config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="LLMSIEM_CONFIG",
    help="Config file of rule sources (keys rules, with-pack; paths relative to it). "
    "Default: the nearest llmsiem.toml, or pyproject.toml with [tool.llmsiem], from the "
    "current directory upwards. Command line > environment > config file > defaults.",
)


def rule_config(config: Path | None) -> RuleConfig:
    """The rule sources of ``--config`` or of the nearest config file."""
    from llmsiem.cli.config_file import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc


def configured(name: str, value: T, default: T | None) -> T:
    """An option's value, or the config file's ``default`` when the option was not given
    on the command line or in the environment (and the file sets one)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return default if source == ParameterSource.DEFAULT and default is not None else value


def override_json(override: Override) -> dict[str, str]:
    return {"key": override.key, "replaced": str(override.replaced), "by": str(override.by)}


def load_pack(rules: Path | RuleSources | None) -> RulePack:
    """The pack of a command's --rules/--with-pack; each override is reported on stderr."""
    from llmsiem.rulepack import RuleLoadError, RulePack

    try:
        pack = RulePack.load(rules)
    except OSError as exc:
        raise CommandError(f"cannot read rules: {exc}") from exc
    except RuleLoadError as exc:
        raise CommandError(str(exc)) from exc
    for override in pack.overrides:
        err_console.print(f"[yellow]override:[/] {override}", highlight=False, soft_wrap=True)
    return pack


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
    from llmsiem.pipeline import Pipeline
    from llmsiem.scrub import MissingScrubKeyError, Scrubber

    try:
        scrubber = Scrubber(scrub_mode)  # type: ignore[arg-type]
    except MissingScrubKeyError as exc:
        raise CommandError(str(exc)) from exc
    return Pipeline(scrubber, letters, source_format)


def alert_table(alerts: list[dict[str, Any]]) -> Table:
    """Alerts counted by rule and level, most severe first."""
    from rich.table import Table

    from llmsiem.levels import rank

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


def load_engine_rules(rules: Path | RuleSources | None, tuning: Path | None) -> EngineRules:
    """Compile the pack for the engine; rules that fail are reported on stderr by id."""
    from llmsiem.engine.rules import compile_for_engine
    from llmsiem.rulepack import RuleLoadError

    try:
        compiled = compile_for_engine(load_pack(rules), tuning)
    except RuleLoadError as exc:
        raise CommandError(str(exc)) from exc
    for issue in compiled.issues:
        err_console.print(f"[yellow]{issue}[/]", highlight=False, soft_wrap=True)
    return compiled
