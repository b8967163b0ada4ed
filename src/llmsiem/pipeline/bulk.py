"""Scrubbing a table of already-normalized events in bulk: the pipeline's fast path.

Loading a large normalized JSONL file record by record in Python would be many times
slower than DuckDB's own parser, so the engine loads such a file in one typed read and
asks this module which rows the scrubber would change. Every distinct value of every
string, list and object field goes to the scrubber once (telemetry repeats its values:
templates, canned prompts, tool arguments, user agents, model names); a row is selected
when any of its values has a finding. Only the selected rows then go through the
per-record pipeline, which scrubs the whole document.

Identifiers that are unique per event (``BULK_UNSCANNED``) are the one exception: scanning
a million distinct ids would cost more than loading them. The scrubber only looks for
secrets in identifiers, and a JSONL file whose ids hold secrets should go through
``llmsiem ingest`` (which scans every string) before it is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmsiem.columns import column_ref, field_types
from llmsiem.scrub import Scrubber

STRING_KINDS = ("keyword", "ip", "object", "object[]")
LIST_KINDS = ("keyword[]",)
BULK_UNSCANNED = frozenset(
    {"event.id", "trace.id", "span.id", "gen_ai.response.id", "gen_ai.tool.call.id"}
)


def scanned_fields() -> list[str]:
    """Dotted names of the fields scanned in bulk."""
    return [
        name
        for name, kind in field_types().items()
        if kind in STRING_KINDS + LIST_KINDS and name not in BULK_UNSCANNED
    ]


def _values_sql(field: str) -> str:
    """SQL for a row's values of ``field`` as a list of strings."""
    ref = column_ref(field)
    if field_types()[field] in LIST_KINDS:
        return ref
    return f"[CAST({ref} AS VARCHAR)]"


def rows_with_findings(con: Any, table: str, where: str, scrubber: Scrubber) -> list[int]:
    """``_seq`` of the rows of ``table`` matching ``where`` in which the scrubber finds anything."""
    values = ", ".join(_values_sql(f) for f in scanned_fields())
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE bulk_values AS
            SELECT _seq, flatten([{values}]) AS v FROM {table} WHERE {where}"""
    )
    distinct = con.execute(
        "SELECT DISTINCT value FROM (SELECT unnest(v) AS value FROM bulk_values) "
        "WHERE value IS NOT NULL AND value <> ''"
    ).fetchall()
    flagged = [value for (value,) in distinct if scrubber.scrub_text(value).types]
    rows: list[tuple[int]] = []
    if flagged:
        rows = con.execute(
            "SELECT _seq FROM bulk_values WHERE list_has_any(v, ?) ORDER BY _seq", [flagged]
        ).fetchall()
    con.execute("DROP TABLE bulk_values")
    return [seq for (seq,) in rows]


def select_lines(lines: Iterable[bytes], wanted: set[int]) -> dict[int, tuple[int, bytes]]:
    """Of the non-blank ``lines``, those at 1-based positions ``wanted``, with line numbers."""
    found: dict[int, tuple[int, bytes]] = {}
    position = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        position += 1
        if position in wanted:
            found[position] = (number, raw)
            if len(found) == len(wanted):
                break
    return found
