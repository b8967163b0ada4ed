"""``llmsiem schema``: export the JSON Schema, validate event files, show the field reference."""

from __future__ import annotations

import sys
from collections import Counter
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
)
from llmsiem.deadletter import DeadLetter
from llmsiem.records import expand_inputs, read_records
from llmsiem.resources import content_dir
from llmsiem.schema_export import (
    leaf_fields,
    load_field_reference,
    render_field_reference_markdown,
    render_json_schema,
)
from llmsiem.validation import Problem, check_records


@click.group("schema")
def schema_group() -> None:
    """The normalized LLM event schema: export, validate, field reference."""


@schema_group.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file instead of stdout.",
)
def export(out: Path | None) -> None:
    """Print (or write) the JSON Schema of one normalized event."""
    text = render_json_schema()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@schema_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--dead-letter",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every invalid record, with its reason, to this JSONL file.",
)
@click.option("--max-problems", default=50, show_default=True, help="Problems to print (table).")
@format_option
def validate(
    files: tuple[Path, ...], dead_letter: Path | None, max_problems: int, output_format: str
) -> None:
    """Validate JSON/JSONL event FILES (or directories) against the schema.

    Each invalid event is reported with its file, line and field. Exits 0 when every event
    is valid, 1 when any is invalid, 2 when an input cannot be read.
    """
    try:
        paths = expand_inputs(files)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    good: Counter[str] = Counter()
    bad: Counter[str] = Counter()
    problems: list[Problem] = []
    with DeadLetter(dead_letter) as letters:
        for path in paths:
            good[str(path)] += 0
            for checked in check_records(read_records(path)):
                record = checked.record
                if checked.event is not None:
                    good[record.source] += 1
                    continue
                bad[record.source] += 1
                problems.extend(checked.problems)
                reasons = "; ".join(str(p) for p in checked.problems)
                letters.write(record.source, record.line, reasons, record.data or record.raw)
    total_bad = sum(bad.values())
    if output_format == "json":
        print_json(
            {
                "valid": sum(good.values()),
                "invalid": total_bad,
                "files": [
                    {"path": name, "valid": good[name], "invalid": bad[name]} for name in good
                ],
                "problems": [p.__dict__ for p in problems],
            }
        )
    else:
        for problem in problems[:max_problems]:
            console.print(f"[red]✗[/] {problem}", highlight=False, soft_wrap=True)
        if len(problems) > max_problems:
            console.print(f"... and {len(problems) - max_problems} more problems")
        table = Table(title="Schema validation")
        table.add_column("file")
        table.add_column("valid", justify="right")
        table.add_column("invalid", justify="right")
        for name in good:
            table.add_row(name, str(good[name]), str(bad[name]))
        table.add_row("[bold]total", str(sum(good.values())), str(total_bad))
        console.print(table)
    sys.exit(EXIT_FINDINGS if total_bad else EXIT_OK)


@schema_group.command("fields")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "md"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts, md for schema/FIELDS.md.",
)
def fields(output_format: str) -> None:
    """Show the field reference: every field, its type, source standard and meaning."""
    reference = load_field_reference(content_dir("schema") / "fields.yaml")
    if output_format == "json":
        print_json(reference)
    elif output_format == "md":
        sys.stdout.write(render_field_reference_markdown(reference))
    else:
        types = leaf_fields()
        table = Table(title="LLMEvent fields")
        for column in ("field", "type", "source", "meaning"):
            table.add_column(column)
        for item in reference:
            table.add_row(
                item["name"], types.get(item["name"], "?"), item["source"], item["meaning"]
            )
        console.print(table)
