"""The schema's constraints that DuckDB's typed read of an event does not enforce, as SQL.

The bulk path reads normalized JSONL with ``read_json`` into typed columns, which rejects
only a value it cannot cast. This module turns what else of ``LLMEvent``'s JSON schema a
column can show (required members of an object that is present, enumerations, patterns,
bounds, lengths, IP addresses) into one SQL condition over the event table, true for a row
that may break one; such a row goes through the per-record pipeline, which decides (and
dead-letters it with the reason). Every IPv6 address goes that way too (only IPv4 is
checked here). What a column cannot show stays unchecked on the bulk path: a number where
the schema wants text (DuckDB casts it), the inside of free-form JSON fields, the model's
own validators, and the defaults the model fills in (``event.type``, ``schema_version``...).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from llmsiem.columns import OWN_COLUMN_FIELDS, column_ref, field_types, sql_literal
from llmsiem.event import LLMEvent

IPV4 = r"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
_BOUNDS = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}


@cache
def broken_row_sql() -> str:
    """SQL condition on the event table: the row breaks a constraint its columns show."""
    schema = LLMEvent.model_json_schema()
    found: list[str] = []
    _walk(schema, schema.get("$defs", {}), (), found)
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
    node: dict[str, Any], defs: dict[str, Any], path: tuple[str, ...], found: list[str]
) -> None:
    node = _resolve(node, defs)
    name = ".".join(path)
    if node.get("type") == "object" and "properties" in node and name not in field_types():
        present = f"{_object_ref(path)} IS NOT NULL AND " if path else ""
        for member in node.get("required", []):
            dotted = ".".join((*path, member))
            ref = column_ref(dotted) if dotted in field_types() else _object_ref((*path, member))
            found.append(f"({present}{ref} IS NULL)")
        for member, sub in node["properties"].items():
            _walk(sub, defs, (*path, member), found)
        return
    kind = field_types().get(name)
    if kind is None or kind.startswith("object") or name in OWN_COLUMN_FIELDS:
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
