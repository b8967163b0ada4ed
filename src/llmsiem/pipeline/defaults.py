"""The members ``LLMEvent`` fills in for a document that leaves them out, as SQL.

The per-record pipeline validates each document with the model, which fills in defaults
(``event.kind``, ``event.category``, ``event.type``, ``event.dataset``; the ``llmsiem``
object with its ``schema_version``; a redaction's ``types`` and ``count``). DuckDB's typed
read leaves them NULL, so the bulk path reads each column holding one through the
expression ``filled_columns`` gives, which fills them as the model does: a member only in
an object that is present, and an object with a default (``llmsiem``) where it is absent.
(An explicit null there, which the model refuses, is filled in too: the typed read cannot
tell it from an absent member.)
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from llmsiem.columns import (
    DUCKDB_TYPES,
    OWN_COLUMN_FIELDS,
    field_types,
    schema_tree,
    sql_literal,
    struct_type,
    struct_updated,
)
from llmsiem.event import LLMEvent


@dataclass
class _Defaults:
    """An object level's defaulted members: SQL literals, or the levels below."""

    members: dict[str, str | _Defaults] = field(default_factory=dict)
    created: bool = False
    """The model makes this object when the document has none."""


@cache
def filled_columns() -> dict[str, str]:
    """SQL expression per top-level column holding a defaulted member: the column with
    the model's defaults filled in."""
    top = _Defaults()
    _collect(LLMEvent, (), top)
    tree = schema_tree(OWN_COLUMN_FIELDS)
    filled = {}
    for column, node in top.members.items():
        assert isinstance(node, _Defaults), f"a default on the top-level field {column}"
        filled[column] = _filled(f'"{column}"', node, tree[column])
    return filled


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (``Model`` or ``Model | None``), None for others."""
    options = [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(options) == 1 and isinstance(options[0], type) and issubclass(options[0], BaseModel):
        return options[0]
    return None


def _collect(model: type[BaseModel], path: tuple[str, ...], node: _Defaults) -> None:
    for name, info in model.model_fields.items():
        key = info.alias or name
        dotted = ".".join((*path, key))
        inner = _model(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        if inner is not None and dotted not in field_types():
            child = _Defaults(created=default is not None)
            _collect(inner, (*path, key), child)
            if child.members or child.created:
                node.members[key] = child
        elif default is not None and dotted in field_types():
            value = to_jsonable_python(default)
            node.members[key] = _literal(value, DUCKDB_TYPES[field_types()[dotted]])


def _literal(value: Any, duckdb_type: str) -> str:
    if isinstance(value, str):
        text = sql_literal(value)
    elif isinstance(value, list):
        text = "[" + ", ".join(sql_literal(str(item)) for item in value) + "]"
    else:
        text = str(value)
    return f"CAST({text} AS {duckdb_type})"


def _filled(ref: str, node: _Defaults, tree: dict[str, Any]) -> str:
    """SQL: the struct at ``ref`` (of the ``schema_tree`` node ``tree``) with ``node``'s
    defaults filled in."""
    if node.created:  # an absent object becomes one holding only its defaults
        empty = ", ".join(
            f'"{name}" := CAST(NULL AS {struct_type(sub) if isinstance(sub, dict) else sub})'
            for name, sub in tree.items()
        )
        ref = f"coalesce({ref}, struct_pack({empty}))"
    return struct_updated(ref, _members(ref, node, tree))


def _members(ref: str, node: _Defaults, tree: dict[str, Any]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, sub in node.members.items():
        member = f'{ref}."{name}"'
        if isinstance(sub, str):
            members[name] = f"coalesce({member}, {sub})"
        elif sub.created:
            members[name] = _filled(member, sub, tree[name])
        else:
            members[name] = _members(member, sub, tree[name])
    return members
