"""ES|QL backend."""

from __future__ import annotations

from typing import ClassVar

from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend


class UnanchoredESQLBackend(ESQLBackend):
    """ES|QL backend whose ``re`` (RLIKE) matches anywhere in the value."""

    re_expression: ClassVar[str] = '{field} rlike ".*({regex}).*"'
