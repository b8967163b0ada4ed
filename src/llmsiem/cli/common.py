"""Shared pieces of the command line: exit codes, output format option, consoles."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from llmsiem.ingest import SOURCE_FORMATS

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
    type=click.Choice(SOURCE_FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto sniffs each file (normalized JSONL, OTLP, LiteLLM, Langfuse).",
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
