"""Lucene query-string backends (Elasticsearch, OpenSearch, Kibana query rules)."""

from __future__ import annotations

from typing import ClassVar

from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend

# Sigma's ``re`` searches anywhere in the value; Lucene regexp, ES|QL RLIKE and EQL regex
# match the whole value. The subclasses below wrap the pattern so both agree.


class UnanchoredLuceneBackend(LuceneBackend):
    """Lucene backend whose ``re`` matches anywhere in the value, as Sigma specifies."""

    re_expression: ClassVar[str] = "{field}:/.*({regex}).*/"


class UnanchoredOpensearchBackend(OpensearchLuceneBackend):
    """OpenSearch Lucene backend whose ``re`` matches anywhere in the value."""

    re_expression: ClassVar[str] = "{field}:/.*({regex}).*/"
