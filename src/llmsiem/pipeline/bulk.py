"""Scrubbing a table of already-normalized events in bulk: the pipeline's fast path.

Loading a large normalized JSONL file record by record in Python would be many times
slower than DuckDB's own parser, so the engine loads such a file in one typed read and
this module scrubs the table as ``Scrubber.scrub_document`` would scrub each row:

1. every distinct value of every string, list and object field goes to the scrubber once
   (telemetry repeats its values: templates, prompts, tool arguments, user agents, models);
   an identity field's for secrets only, since the scrubber keeps personal data there;
2. a value with findings in a plain text field is replaced in SQL by its scrubbed text,
   and the row's ``llmsiem.redaction`` records the types, count and mode;
3. rows with findings anywhere else (a secret in an identity field; lists; objects) are
   returned, so that the caller passes their lines through the per-record pipeline.

Identifiers unique per event (``PREFILTERED``: a million distinct ones would cost more to
scan than to load) are first screened in SQL by what the scrubber's own pre-filter looks
for (every detector's needle, an escape to decode, a mixed-case base64 run): only the
values that pass are scanned, and a row with a finding there goes through the per-record
pipeline like any identity field. The schema's numeric measurements (token counts, sizes,
durations) are not scanned, here as in ``Scrubber.scrub_document``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from llmsiem.columns import DUCKDB_TYPES, column_ref, field_types, sql_literal, struct_updated
from llmsiem.scoring import score_table
from llmsiem.scrub import Scrubber, ScrubResult
from llmsiem.scrub.decoding import BASE64_MIN_CHARS
from llmsiem.scrub.document import IDENTITY_FIELDS, SKIPPED_FIELDS
from llmsiem.scrub.scan import needle_union

TEXT_KINDS = ("keyword", "ip")
OTHER_SCANNED_KINDS = ("keyword[]", "object", "object[]")
PREFILTERED = frozenset(
    {"event.id", "trace.id", "span.id", "gen_ai.response.id", "gen_ai.tool.call.id"}
)
REDACTION = "llmsiem.redaction"


def _skipped(field: str) -> bool:
    return any(field == s or field.startswith(s + ".") for s in SKIPPED_FIELDS)


@cache
def might_hold_findings_sql(value: str) -> str:
    """SQL condition on the text ``value``: true wherever ``might_contain_sensitive`` is
    (a superset: DuckDB's ``.`` also matches a line break, and case is tested over the
    whole value, not per base64 run)."""
    run = f"[A-Za-z0-9+/_-]{{{BASE64_MIN_CHARS}}}"
    return (
        f"(contains({value}, '\\') OR contains({value}, '%')"
        f" OR regexp_matches({value}, {sql_literal(needle_union())})"
        f" OR (regexp_matches({value}, '{run}') AND regexp_matches({value}, '[a-z]')"
        f" AND regexp_matches({value}, '[A-Z]')))"
    )


def replaceable_fields() -> list[str]:
    """Plain text fields whose findings are replaced in SQL."""
    return [
        name
        for name, kind in field_types().items()
        if kind in TEXT_KINDS and name not in IDENTITY_FIELDS and not _skipped(name)
    ]


def other_scanned_fields() -> list[str]:
    """Scanned fields whose rows go through the per-record pipeline when they hold findings."""
    replaceable = set(replaceable_fields())
    return [
        name
        for name, kind in field_types().items()
        if kind in TEXT_KINDS + OTHER_SCANNED_KINDS
        and name not in replaceable
        and not _skipped(name)
    ]


def _values(field: str) -> str:
    """SQL for the scanned values of ``field`` in one row, one value per result row."""
    ref = column_ref(field)
    return f"unnest({ref})" if field_types()[field] == "keyword[]" else f"CAST({ref} AS VARCHAR)"


def _holds(field: str) -> str:
    """SQL condition: the row's ``field`` holds a value of the flagged list ``$1``."""
    ref = column_ref(field)
    if field_types()[field] == "keyword[]":
        return f"list_has_any({ref}, $1)"
    return f"list_contains($1, CAST({ref} AS VARCHAR))"


def _seqs(con: Any, table: str, where: str, fields: list[str], flagged: list[str]) -> list[int]:
    holds = " OR ".join(_holds(f) for f in fields)
    rows = con.execute(
        f"SELECT _seq FROM {table} WHERE ({where}) AND ({holds}) ORDER BY _seq", [flagged]
    ).fetchall()
    return [seq for (seq,) in rows]


def scrub_table(con: Any, table: str, where: str, scrubber: Scrubber) -> list[int]:
    """Scrub the rows of ``table`` matching ``where`` and score their prompt text (as
    the per-record pipeline does); ``_seq`` of rows left to the pipeline."""
    per_record = _scrub_in_sql(con, table, where, scrubber)
    score_table(con, table, where)
    return per_record


def _scrub_in_sql(con: Any, table: str, where: str, scrubber: Scrubber) -> list[int]:
    fields = replaceable_fields() + other_scanned_fields()
    values = " UNION ALL ".join(
        f"SELECT {i} AS field, {_values(f)} AS v FROM {table} WHERE {where}"
        + (f" AND {might_hold_findings_sql(_values(f))}" if f in PREFILTERED else "")
        for i, f in enumerate(fields)
    )
    pairs = con.execute(
        f"SELECT DISTINCT field, v FROM ({values}) WHERE v IS NOT NULL AND v <> ''"
    ).fetchall()
    identity = [f in IDENTITY_FIELDS for f in fields]
    # An identity field keeps personal data, as in ``Scrubber.scrub_document``: only a
    # secret there is a finding (a million e-mail user ids stay on the fast path).
    results: dict[tuple[str, bool], ScrubResult] = {}
    hit: set[str] = set()
    for index, value in pairs:
        key = (value, identity[index])
        if key not in results:
            results[key] = scrubber.scrub_text(value, pii=not identity[index])
        if results[key].types:
            hit.add(fields[index])
    if not hit:
        return []
    # Flagged values by whether they were scanned as an identity field's.
    flagged: dict[bool, list[str]] = {False: [], True: []}
    for (value, in_identity), result in results.items():
        if result.types:
            flagged[in_identity].append(value)
    per_record: set[int] = set()
    for in_identity in (False, True):
        others = [
            f for f in other_scanned_fields() if f in hit and (f in IDENTITY_FIELDS) == in_identity
        ]
        if others:
            per_record.update(_seqs(con, table, where, others, flagged[in_identity]))
    replaceable = [f for f in replaceable_fields() if f in hit]
    if replaceable:
        found = {value: results[value, False] for value in flagged[False]}
        in_sql = [
            s for s in _seqs(con, table, where, replaceable, flagged[False]) if s not in per_record
        ]
        if in_sql:
            _replace(con, table, in_sql, replaceable, found, scrubber.mode)
    return sorted(per_record)


def _replace(
    con: Any,
    table: str,
    seqs: list[int],
    fields: list[str],
    found: dict[str, ScrubResult],
    mode: str,
) -> None:
    """Replace flagged values by their scrubbed text and record the findings, in SQL."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE scrub_map (value VARCHAR, text VARCHAR, types VARCHAR[])"
    )
    con.executemany(
        "INSERT INTO scrub_map VALUES (?, ?, ?)",
        [[value, result.text, result.types] for value, result in found.items()],
    )
    joins = "\n".join(
        f"LEFT JOIN scrub_map m{i} ON m{i}.value = e.{column_ref(f)}" for i, f in enumerate(fields)
    )
    types = "flatten([" + ", ".join(f"coalesce(m{i}.types, [])" for i in range(len(fields))) + "])"
    replacements = {f: f"coalesce(m{i}.text, e.{column_ref(f)})" for i, f in enumerate(fields)}
    old = 'e."llmsiem"."redaction"'
    members = {
        "mode": f"'{mode}'",
        "types": f'list_sort(list_distinct(list_concat(coalesce({old}."types", []), {types})))',
        "count": f'coalesce({old}."count", 0) + len({types})',
    }
    kinds = {
        n.removeprefix(REDACTION + "."): k
        for n, k in field_types().items()
        if n.startswith(REDACTION + ".")
    }
    assert set(kinds) == set(members), f"{REDACTION} fields changed: {sorted(kinds)}"
    replacements[REDACTION] = (
        "struct_pack("
        + ", ".join(f'"{n}" := CAST({members[n]} AS {DUCKDB_TYPES[k]})' for n, k in kinds.items())
        + ")"
    )
    tree: dict[str, Any] = {}
    for dotted, expression in replacements.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = expression
    columns = ", ".join(
        f'{struct_updated(f"e.{chr(34)}{column}{chr(34)}", sub)} AS "{column}"'
        for column, sub in tree.items()
    )
    # One UPDATE from the rewritten values: cheaper in DuckDB than a delete and insert
    # through a temporary table.
    assigned = ", ".join(f'"{column}" = s."{column}"' for column in tree)
    con.execute(
        f"""UPDATE {table} SET {assigned}
            FROM (SELECT e._seq, {columns} FROM {table} e {joins}
                  WHERE e._seq IN (SELECT unnest($1))) AS s
            WHERE {table}._seq = s._seq""",
        [seqs],
    )
    con.execute("DROP TABLE scrub_map")
