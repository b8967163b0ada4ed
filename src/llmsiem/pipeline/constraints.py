"""The schema's constraints that DuckDB's typed read of an event does not enforce, as SQL.

The bulk path reads normalized JSONL with ``read_json`` into typed columns, which rejects
only a value it cannot cast. This module turns what else of ``LLMEvent``'s JSON schema a
column can show (required members of an object that is present, enumerations, patterns,
bounds, lengths, IP addresses), and the model's one validator (no raw secret as an API
key's id or alias), into one SQL condition over the event table, true for a row that may
break one; such a row goes through the per-record pipeline, which decides (and
dead-letters it with the reason). Every IPv6 address goes that way too (only IPv4 is
checked here). Keys outside the schema are ``survey``'s to find, defaults ``defaults``' to
fill; a value DuckDB casts from another JSON type, and the inside of free-form JSON fields,
stay unchecked on the bulk path.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from llmsiem.columns import OWN_COLUMN_FIELDS, column_ref, field_types, sql_literal
from llmsiem.event import RAW_KEY_MIN_LENGTH, RAW_KEY_PREFIX, LLMEvent

IPV4 = r"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
_BOUNDS = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}


@cache
def broken_row_sql(read: frozenset[str] | None = None) -> str:
    """SQL condition on the event table: the row breaks a constraint its columns show.
    ``read``: the fields the rows were read with (all when None; the others are NULL
    because they were not read, so their constraints are left out)."""
    schema = LLMEvent.model_json_schema()
    found: list[str] = []
    fields = frozenset(field_types()) if read is None else read
    _walk(schema, schema.get("$defs", {}), (), found, fields)
    # The model's validator: no raw secret as the API key's id or alias.
    for name in ("llmsiem.api_key.id", "llmsiem.api_key.alias"):
        if name not in fields:
            continue
        ref = column_ref(name)
        found.append(
            f"(regexp_matches({ref}, {sql_literal(RAW_KEY_PREFIX)})"
            f" AND length({ref}) >= {RAW_KEY_MIN_LENGTH})"
        )
    return " OR ".join(f"coalesce({condition}, false)" for condition in found) or "false"


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed and an optional (``anyOf`` with null) unwrapped;
    ``{}`` (no constraint) when it allows several kinds of value."""
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if {option.get("format") for option in options} == {"ipv4", "ipv6"}:
            return {"format": "ip"}
        return _resolve(options[0], defs) if len(options) == 1 else {}
    return node


def _object_ref(path: tuple[str, ...]) -> str:
    return ".".join(f'"{part}"' for part in path)


def _walk(
    node: dict[str, Any],
    defs: dict[str, Any],
    path: tuple[str, ...],
    found: list[str],
    read: frozenset[str],
) -> None:
    node = _resolve(node, defs)
    name = ".".join(path)
    if node.get("type") == "object" and "properties" in node and name not in field_types():
        present = f"{_object_ref(path)} IS NOT NULL AND " if path else ""
        for member in node.get("required", []):
            dotted = ".".join((*path, member))
            if dotted in field_types():
                if dotted in read:
                    found.append(f"({present}{column_ref(dotted)} IS NULL)")
            else:
                found.append(f"({present}{_object_ref((*path, member))} IS NULL)")
        for member, sub in node["properties"].items():
            _walk(sub, defs, (*path, member), found, read)
        return
    kind = field_types().get(name)
    if kind is None or kind.startswith("object") or name in OWN_COLUMN_FIELDS or name not in read:
        return
    ref = column_ref(name)
    if kind.endswith("[]"):
        broken = ["x IS NULL", *_scalar_checks("x", _resolve(node.get("items", {}), defs))]
        found.append(f"len(list_filter({ref}, lambda x: {' OR '.join(broken)})) > 0")
        return
    found.extend(_scalar_checks(ref, node))


def _literal(value: Any) -> str:
    return sql_literal(value) if isinstance(value, str) else json.dumps(value)


def _scalar_checks(ref: str, node: dict[str, Any]) -> list[str]:
    """Conditions under which the value at ``ref`` breaks the constraints of ``node``."""
    checks = []
    if "enum" in node:
        checks.append(f"{ref} NOT IN ({', '.join(_literal(v) for v in node['enum'])})")
    if "const" in node:
        checks.append(f"{ref} <> {_literal(node['const'])}")
    if "pattern" in node:  # pydantic searches for the pattern, as regexp_matches does
        checks.append(f"NOT regexp_matches({ref}, {_literal(node['pattern'])})")
    for key, operator in _BOUNDS.items():
        if key in node:
            checks.append(f"{ref} {operator} {node[key]}")
    if node.get("format") == "ip":  # an IPv6 address is left to the pipeline to check
        checks.append(f"NOT regexp_matches({ref}, {_literal(IPV4)})")
    if "minLength" in node:
        checks.append(f"length({ref}) < {node['minLength']}")
    if "maxLength" in node:
        checks.append(f"length({ref}) > {node['maxLength']}")
    return checks
