"""The lines of a JSONL file of event documents that DuckDB's typed read would not take
as the pipeline does: lines that are no JSON object, lines with a key outside the schema
(the typed read drops such a key, where the pipeline refuses the line), and lines with a
date in another form than ``ISO_DATE`` (DuckDB reads a time without a zone, an hour 24, a
zone of hours alone, surrounding blanks... where the model refuses them).

``survey`` groups the lines by the keys of every object level of the schema and by whether
their dates are all in that form, from one parse; ``flagged_lines`` finds the lines of the
key lists it flagged, the lines with another date and the lines that are no JSON object.
Other values of another JSON type than a field's are not surveyed: the typed read casts
them (see the README), and checking them costs a second parse of every line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from llmsiem.columns import field_types, schema_tree, sql_literal
from llmsiem.records import max_line_bytes

ISO_DATE = (
    r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|[12][0-9]|3[01])[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r"(?::[0-5][0-9](?:\.[0-9]+)?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])"
)
"""The dates the bulk path reads: ISO 8601 with a zone from year 1, in which DuckDB's
reading and the model's agree (an invalid day is an error of the typed read, so its line
is quarantined); any other date's line goes through the per-record pipeline."""


@cache
def object_levels() -> dict[str, frozenset[str]]:
    """Every object level of the schema ("" for the top) and the member names it allows;
    free-form objects (``object`` fields) are leaves, so their members are not listed."""
    levels: dict[str, frozenset[str]] = {}

    def visit(node: dict[str, Any], level: str) -> None:
        levels[level] = frozenset(node)
        for name, sub in node.items():
            if isinstance(sub, dict):
                visit(sub, f"{level}.{name}" if level else name)

    visit(schema_tree(), "")
    return levels


def _path(dotted: str) -> str:
    """The JSON path of a dotted schema name, as a SQL literal."""
    return sql_literal("$" + "".join(f'."{part}"' for part in dotted.split(".") if part))


@cache
def _keys_sql(numbered: bool) -> str:
    """SQL: each line of the file ``$1`` as ``keys``, the JSON text of the key lists of
    every object level (NULL for a line that is no JSON object or an empty one), and
    ``odd_date``, whether a date field holds anything but an ``ISO_DATE`` string;
    ``numbered`` adds its 1-based number ``n``. The paths are the schema's, inlined."""
    levels = ", ".join(_path(level) for level in object_levels())
    dates = [name for name, kind in field_types().items() if kind == "date"]
    odd = " OR ".join(
        f"coalesce(NOT regexp_full_match(d[{i}], {sql_literal(ISO_DATE)}), false)"
        for i in range(1, len(dates) + 1)
    )
    number = "row_number() OVER () AS n, " if numbered else ""
    return f"""
        SELECT {"n, " if numbered else ""}CASE WHEN len(k[1]) > 0 THEN to_json(k) END AS keys,
               {odd} AS odd_date
        FROM (SELECT {number}json_keys(json, [{levels}]) AS k,
                     json_extract_string(json, [{", ".join(map(_path, dates))}]) AS d
              FROM read_ndjson_objects($1, ignore_errors = true, maximum_object_size = $2))"""


@dataclass
class Survey:
    """What one parse of a file found."""

    malformed: int = 0
    """Lines that are no JSON object, or an empty one."""
    unknown: set[tuple[str, str]] = field(default_factory=set)
    """Keys outside the schema, as (object level, key) pairs, "" the top level."""
    flagged: list[str] = field(default_factory=list)
    """Key lists (as JSON text) of the lines holding one of those."""
    odd_dates: int = 0
    """Lines with a date in another form than ``ISO_DATE``."""


def survey(con: Any, path: Path) -> Survey:
    """Group the lines of ``path`` by their key lists and check each distinct one."""
    # Grouped by the key lists' JSON text (exact, and cheaper to hash than nested lists);
    # the few distinct groups are decoded here.
    rows = con.execute(
        f"SELECT keys, odd_date, count(*) FROM ({_keys_sql(False)}) GROUP BY keys, odd_date",
        [str(path), max_line_bytes()],
    ).fetchall()
    found = Survey()
    for text, odd_date, count in rows:
        if odd_date:
            found.odd_dates += count
        if text is None:
            found.malformed += count
            continue
        unknown = {
            (level, key)
            for (level, known), present in zip(
                object_levels().items(), json.loads(text), strict=True
            )
            for key in present or ()
            if key not in known
        }
        if unknown:
            found.unknown |= unknown
            found.flagged.append(text)
    return found


def flagged_lines(con: Any, path: Path, flagged: list[str]) -> set[int]:
    """0-based positions of the lines of ``path`` that are no JSON object (or an empty
    one), have one of the ``flagged`` key lists or a date in another form than
    ``ISO_DATE``; the rare path, so a single-threaded numbered scan is fine."""
    rows = con.execute(
        f"""SELECT n - 1 FROM ({_keys_sql(True)})
            WHERE keys IS NULL OR list_contains($3, keys) OR odd_date""",
        [str(path), max_line_bytes(), flagged],
    ).fetchall()
    return {n for (n,) in rows}
