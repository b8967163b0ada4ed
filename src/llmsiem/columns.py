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


OWN_COLUMN_FIELDS = ("llmsiem.prompt.injection_score",)
"""Fields the event table keeps in a top-level column of their own, named by the dotted
name, instead of inside their struct: the engine sets them after loading, and DuckDB
rewrites the whole struct column to update one member of it."""


def struct_type(tree: dict[str, Any]) -> str:
    """The DuckDB STRUCT type of a ``schema_tree`` node."""
    members = ", ".join(
        f'"{name}" {struct_type(sub) if isinstance(sub, dict) else sub}'
        for name, sub in tree.items()
    )
    return f"STRUCT({members})"


def struct_updated(ref: str, tree: dict[str, Any]) -> str:
    """SQL: the struct at ``ref`` with the members in ``tree`` (nested dicts of SQL
    expressions) replaced; NULL stays NULL."""
    members = ", ".join(
        f'"{name}" := ' + (struct_updated(f'{ref}."{name}"', sub) if isinstance(sub, dict) else sub)
        for name, sub in tree.items()
    )
    return f"CASE WHEN {ref} IS NULL THEN NULL ELSE struct_update({ref}, {members}) END"


def schema_tree(omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """The schema's fields (but ``omit``) as nested dicts of DuckDB leaf types."""
    tree: dict[str, Any] = {}
    for name, kind in field_types().items():
        if name in omit:
            continue
        *parents, leaf = [name] if name == "@timestamp" else name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = DUCKDB_TYPES[kind]
    return tree


def _columns(tree: dict[str, Any]) -> dict[str, str]:
    return {
        name: struct_type(sub) if isinstance(sub, dict) else str(sub) for name, sub in tree.items()
    }


@cache
def read_json_columns() -> dict[str, str]:
    """The ``columns`` argument of DuckDB ``read_json`` for the whole event schema."""
    return _columns(schema_tree())


@cache
def table_columns() -> dict[str, str]:
    """The event table's schema columns: the nested ones without ``OWN_COLUMN_FIELDS``,
    then those as top-level columns (a typed read fills them from top-level keys)."""
    columns = _columns(schema_tree(OWN_COLUMN_FIELDS))
    columns.update({name: DUCKDB_TYPES[field_types()[name]] for name in OWN_COLUMN_FIELDS})
    return columns


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def columns_sql(columns: dict[str, str]) -> str:
    """A ``columns`` mapping as the DuckDB struct literal ``read_json`` takes."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"


def column_ref(field: str) -> str:
    """SQL reference to a dotted field in the event table (``table_columns``):
    ``llmsiem.prompt.text`` -> ``"llmsiem"."prompt"."text"``."""
    if field not in field_types():
        raise KeyError(f"field {field!r} is not in the LLMEvent schema")
    if field == "@timestamp" or field in OWN_COLUMN_FIELDS:
        return f'"{field}"'
    return ".".join(f'"{part}"' for part in field.split("."))
