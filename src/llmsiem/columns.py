"""How normalized events look as a DuckDB table: column types and field references."""

from __future__ import annotations

from functools import cache
from typing import Any

from llmsiem.schema_export import leaf_fields

DUCKDB_TYPES = {
    "keyword": "VARCHAR",
    "keyword[]": "VARCHAR[]",
    "long": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "TIMESTAMPTZ",
    "ip": "VARCHAR",
    "object": "JSON",
    "object[]": "JSON",
}
NUMERIC = {"long", "float"}


@cache
def field_types() -> dict[str, str]:
    """Schema type of every dotted leaf field."""
    return leaf_fields()


def _struct(tree: dict[str, Any]) -> str:
    members = ", ".join(
        f'"{name}" {_struct(sub) if isinstance(sub, dict) else sub}' for name, sub in tree.items()
    )
    return f"STRUCT({members})"


@cache
def read_json_columns() -> dict[str, str]:
    """The ``columns`` argument of DuckDB ``read_json`` for the whole event schema."""
    tree: dict[str, Any] = {}
    for name, kind in field_types().items():
        if name == "@timestamp":
            tree[name] = DUCKDB_TYPES[kind]
            continue
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = DUCKDB_TYPES[kind]
    return {name: _struct(sub) if isinstance(sub, dict) else str(sub) for name, sub in tree.items()}


def columns_sql(columns: dict[str, str]) -> str:
    """A ``columns`` mapping as the DuckDB struct literal ``read_json`` takes."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"


def column_ref(field: str) -> str:
    """SQL reference to a dotted field: ``llmsiem.prompt.text`` -> ``"llmsiem"."prompt"."text"``."""
    if field not in field_types():
        raise KeyError(f"field {field!r} is not in the LLMEvent schema")
    if field == "@timestamp":
        return '"@timestamp"'
    return ".".join(f'"{part}"' for part in field.split("."))
