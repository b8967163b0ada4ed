"""Real Apache Lucene, in-process through JPype, run the way Elasticsearch runs ``query_string``.

The corpus events go into a Lucene ``ByteBuffersDirectory`` as the shipped index template
(:func:`llmsiem.connectors.elastic.index_template`) maps them, and each compiled query is parsed
by Lucene's classic ``QueryParser`` (the grammar Elasticsearch's ``QueryStringQueryParser``
extends) and run by an ``IndexSearcher``. What Elasticsearch adds on top of Lucene is
reproduced here, each point from Elasticsearch's source or documentation:

- **Field types** (``KeywordFieldMapper``, x-pack ``WildcardFieldMapper``): ``keyword`` and
  ``wildcard`` values are single unanalyzed terms (``StringField``); ``keyword`` values longer
  than ``ignore_above`` characters are not indexed at all
  (https://www.elastic.co/guide/en/elasticsearch/reference/8.7/ignore-above.html). A
  ``wildcard`` field verifies term, wildcard and regexp queries against the whole stored value,
  which is what a whole-value term does; an empty regexp matches no document there.
  ``long``/``double`` values are points (``LongPoint``/``DoublePoint``; a ``long`` coerces a
  decimal by truncation), ``boolean`` values the terms ``true``/``false``; every element of an
  array is indexed, so a query matches on any element. The template declares no normalizer;
  a mapping with one, or a query on a type not listed here (date, ip, flattened), is refused
  rather than guessed.
- **Parser settings** (``QueryStringQueryBuilder`` defaults,
  https://www.elastic.co/guide/en/elasticsearch/reference/8.7/query-dsl-query-string-query.html):
  default operator OR, ``allow_leading_wildcard`` true, whitespace is not an operator (split on
  operators only), ``max_determinized_states`` 10,000, regexps with all ``RegExp`` syntax flags;
  wildcard, prefix and regexp terms are not analyzed on ``keyword`` fields. An unbound term
  (default field ``*``) is refused: the pack never emits one.
- **QueryStringQueryParser** (``server/.../index/search/QueryStringQueryParser.java``):
  ``_exists_:f`` is an exists query (here: the ``_field_names`` terms of the indexed fields and
  their parent objects, as ``FieldNamesFieldMapper`` records them); ``f:*`` is an exists query
  too; an unquoted term starting with ``>``, ``>=``, ``<``, ``<=`` is a one-sided range; a term
  on a numeric field is a point query and a value that is not a number fails the query
  (``lenient`` is false by default); a field missing from the mapping matches nothing; a
  regexp longer than ``index.max_regex_length`` (1,000) fails; a boolean clause that has only
  negative clauses gets a match-all clause (``Queries.fixNegativeQueryIfNeeded``).
- **Failures**: a ``ParseException``, a ``TooComplexToDeterminizeException`` and every other
  refusal are errors of the rule (Kibana sends ``query_string`` without ``lenient``, so
  Elasticsearch refuses such a query too), never an empty result.

Known simplification: the classic parser gives quoted and unquoted single terms the same
``TermQuery``, so the ``>``/``<`` range reading is applied to both (pySigma quotes only values
with spaces, and none of the pack's starts with ``<`` or ``>``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmsiem.compiler.lucene_jvm import (
    DETERMINIZE_WORK_LIMIT,
    LuceneUnavailableError,
    java_class,
    regex_matcher,
    start_jvm,
)
from llmsiem.connectors.elastic import index_template

__all__ = [
    "MAX_REGEX_LENGTH",
    "LuceneIndex",
    "LuceneUnavailableError",
    "QueryRejectedError",
    "kibana_lucene_rules",
    "kibana_lucene_verdicts",
    "lucene_verdicts",
    "regex_matcher",
    "start_jvm",
    "template_fields",
]

if TYPE_CHECKING:  # the engine behind the corpus is only needed by the verdict functions
    from llmsiem.compiler.compile import CompileResult
    from llmsiem.conformance.corpus import SampleCorpus
    from llmsiem.conformance.verdicts import Verdicts

# IndexSettings.MAX_REGEX_LENGTH_SETTING's default.
MAX_REGEX_LENGTH = 1_000
FIELD_NAMES = "_field_names"
EXISTS_FIELD = "_exists_"
UNBOUND_FIELD = "*"
ID_FIELD = "_id"
KEYWORD_TYPES = frozenset({"keyword", "wildcard"})
NUMERIC_TYPES = frozenset({"long", "double"})


class QueryRejectedError(ValueError):
    """Elasticsearch would refuse this query (parse error, too complex, type mismatch)."""


# -- the mapping ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMapping:
    """One leaf of the index template: its type and ``ignore_above``."""

    type: str
    ignore_above: int | None = None


def template_fields(template: dict[str, Any] | None = None) -> dict[str, FieldMapping]:
    """Dotted field name -> mapping, from the composable index template."""
    template = template or index_template()
    fields: dict[str, FieldMapping] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, mapping in properties.items():
            dotted = prefix + name
            if "properties" in mapping:
                walk(mapping["properties"], dotted + ".")
                continue
            if "normalizer" in mapping:
                raise ValueError(f"{dotted}: normalizers are not modelled by this evaluator")
            fields[dotted] = FieldMapping(mapping["type"], mapping.get("ignore_above"))

    walk(template["template"]["mappings"]["properties"], "")
    return fields


def _leaves(document: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, scalar value) for every leaf value; arrays give one pair per element."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _leaves(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    elif isinstance(document, list):
        for element in document:
            yield from _leaves(element, prefix)
    elif document is not None:
        yield prefix, document


def _as_keyword(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- index and search ----------------------------------------------------------------------


class LuceneIndex:
    """The corpus events, indexed as the template maps them, searched with ``query_string``."""

    def __init__(self, events: Iterable[dict[str, Any]], fields: dict[str, FieldMapping]):
        self.fields = fields
        directory = java_class("org.apache.lucene.store.ByteBuffersDirectory")()
        config = java_class("org.apache.lucene.index.IndexWriterConfig")(self._analyzer())
        writer = java_class("org.apache.lucene.index.IndexWriter")(directory, config)
        for event in events:
            writer.addDocument(self._document(event))
        writer.close()
        reader = java_class("org.apache.lucene.index.DirectoryReader").open(directory)
        self.searcher = java_class("org.apache.lucene.search.IndexSearcher")(reader)
        self.size = int(reader.maxDoc())
        stored = reader.storedFields() if hasattr(reader, "storedFields") else None
        self.ids = [
            str((stored.document(i) if stored else reader.document(i)).get(ID_FIELD))
            for i in range(self.size)
        ]

    @staticmethod
    def _analyzer() -> Any:
        return java_class("org.apache.lucene.analysis.core.KeywordAnalyzer")()

    def _document(self, event: dict[str, Any]) -> Any:
        document = java_class("org.apache.lucene.document.Document")()
        store = java_class("org.apache.lucene.document.Field$Store")
        string_field = java_class("org.apache.lucene.document.StringField")
        document.add(
            java_class("org.apache.lucene.document.StoredField")(ID_FIELD, event["event"]["id"])
        )
        present: set[str] = set()
        for path, value in _leaves(event):
            mapping = self.fields.get(path)
            if mapping is None:  # dynamic: false, the value is kept in _source only
                continue
            field = self._field(path, mapping, value)
            if field is None:
                continue
            document.add(field)
            parts = path.split(".")
            present.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
        for name in sorted(present):
            document.add(string_field(FIELD_NAMES, name, store.NO))
        return document

    def _field(self, path: str, mapping: FieldMapping, value: Any) -> Any:
        store = java_class("org.apache.lucene.document.Field$Store")
        if mapping.type in KEYWORD_TYPES:
            text = _as_keyword(value)
            if mapping.ignore_above is not None and len(text) > mapping.ignore_above:
                return None
            return java_class("org.apache.lucene.document.StringField")(path, text, store.NO)
        if mapping.type == "long":
            return java_class("org.apache.lucene.document.LongPoint")(path, int(float(value)))
        if mapping.type == "double":
            return java_class("org.apache.lucene.document.DoublePoint")(path, float(value))
        if mapping.type == "boolean":
            text = _as_keyword(value).lower()
            return java_class("org.apache.lucene.document.StringField")(path, text, store.NO)
        return None  # date, ip, flattened: not queried by the pack, refused in queries

    def search(self, query_string: str) -> frozenset[str]:
        """Ids of the events ``query_string`` matches; raises :class:`QueryRejectedError`."""
        import jpype

        query = self.parse(query_string)
        try:
            hits = self.searcher.search(query, max(self.size, 1))
        except jpype.JException as error:
            raise QueryRejectedError(_java_message(error)) from None
        return frozenset(self.ids[int(hit.doc)] for hit in hits.scoreDocs)

    def parse(self, query_string: str) -> Any:
        import jpype

        if not query_string.strip():
            return java_class("org.apache.lucene.search.MatchNoDocsQuery")()
        parser_class = java_class("org.apache.lucene.queryparser.classic.QueryParser")
        parser = parser_class(UNBOUND_FIELD, self._analyzer())
        parser.setDefaultOperator(parser_class.Operator.OR)
        parser.setAllowLeadingWildcard(True)
        parser.setSplitOnWhitespace(False)
        parser.setDeterminizeWorkLimit(DETERMINIZE_WORK_LIMIT)
        try:
            return self._convert(parser.parse(query_string))
        except jpype.JException as error:
            raise QueryRejectedError(_java_message(error)) from None

    # -- Elasticsearch's query construction on top of the parsed tree --------------------

    def _convert(self, query: Any) -> Any:
        kind = str(query.getClass().getSimpleName())
        if kind == "BooleanQuery":
            return self._boolean(query)
        if kind == "BoostQuery":
            return self._convert(query.getQuery())
        if kind == "TermQuery":
            term = query.getTerm()
            return self._term(str(term.field()), str(term.text()))
        if kind in ("WildcardQuery", "PrefixQuery", "RegexpQuery"):
            return self._multi_term(kind, query)
        if kind == "TermRangeQuery":
            return self._range(
                str(query.getField()),
                _bytes_text(query.getLowerTerm()),
                _bytes_text(query.getUpperTerm()),
                bool(query.includesLower()),
                bool(query.includesUpper()),
            )
        if kind in ("MatchAllDocsQuery", "MatchNoDocsQuery"):
            return query
        raise QueryRejectedError(f"query construct {kind} is not modelled: {query}")

    def _boolean(self, query: Any) -> Any:
        occur = java_class("org.apache.lucene.search.BooleanClause$Occur")
        builder = java_class("org.apache.lucene.search.BooleanQuery$Builder")()
        builder.setMinimumNumberShouldMatch(query.getMinimumNumberShouldMatch())
        clauses = list(query.clauses())
        for clause in clauses:
            builder.add(self._convert(clause.getQuery()), clause.getOccur())
        if clauses and all(c.getOccur() == occur.MUST_NOT for c in clauses):
            builder.add(java_class("org.apache.lucene.search.MatchAllDocsQuery")(), occur.FILTER)
        return builder.build()

    def _mapping(self, field: str) -> FieldMapping | None:
        if field == UNBOUND_FIELD:
            raise QueryRejectedError("unbound term (no field): searches every field")
        return self.fields.get(field)

    def _exists(self, field: str) -> Any:
        term = java_class("org.apache.lucene.index.Term")(FIELD_NAMES, field)
        return java_class("org.apache.lucene.search.TermQuery")(term)

    def _term(self, field: str, text: str) -> Any:
        if field == EXISTS_FIELD:
            return self._exists(text)
        if len(text) > 1 and text[0] in "<>":
            inclusive = text[1] == "=" and len(text) > 2
            bound = text[2:] if inclusive else text[1:]
            if text[0] == ">":
                return self._range(field, bound, None, inclusive, True)
            return self._range(field, None, bound, True, inclusive)
        mapping = self._mapping(field)
        if mapping is None:
            return java_class("org.apache.lucene.search.MatchNoDocsQuery")()
        if mapping.type in NUMERIC_TYPES:
            return self._range(field, text, text, True, True)
        if mapping.type == "boolean":
            if text not in ("true", "false", ""):
                raise QueryRejectedError(f"{field}: cannot parse [{text}] as a boolean")
            text = text or "false"
        elif mapping.type not in KEYWORD_TYPES:
            raise QueryRejectedError(f"{field}: {mapping.type} fields are not modelled")
        term = java_class("org.apache.lucene.index.Term")(field, text)
        return java_class("org.apache.lucene.search.TermQuery")(term)

    def _multi_term(self, kind: str, query: Any) -> Any:
        field = str(query.getField())
        text = str((query.getRegexp() if kind == "RegexpQuery" else _term_of(query)).text())
        if kind == "WildcardQuery" and text == "*":
            return self._exists(field)
        mapping = self._mapping(field)
        if mapping is None:
            return java_class("org.apache.lucene.search.MatchNoDocsQuery")()
        if mapping.type not in KEYWORD_TYPES:
            raise QueryRejectedError(
                f"{field}: {kind} on a {mapping.type} field (Elasticsearch: can only use "
                "wildcard/prefix/regexp queries on keyword and text fields)"
            )
        if kind == "RegexpQuery":
            length = len(text.encode("utf-16-le")) // 2
            if length > MAX_REGEX_LENGTH:
                raise QueryRejectedError(
                    f"{field}: the length of regex [{length}] exceeds index.max_regex_length "
                    f"[{MAX_REGEX_LENGTH}]"
                )
            if mapping.type == "wildcard" and not text:
                return java_class("org.apache.lucene.search.MatchNoDocsQuery")()
        return query

    def _range(
        self,
        field: str,
        lower: str | None,
        upper: str | None,
        include_lower: bool,
        include_upper: bool,
    ) -> Any:
        mapping = self._mapping(field)
        lower = None if lower == "*" else lower
        upper = None if upper == "*" else upper
        if mapping is None:
            return java_class("org.apache.lucene.search.MatchNoDocsQuery")()
        if mapping.type in NUMERIC_TYPES:
            return _numeric_range(field, mapping.type, lower, upper, include_lower, include_upper)
        if mapping.type in KEYWORD_TYPES:
            return java_class("org.apache.lucene.search.TermRangeQuery").newStringRange(
                field, lower, upper, include_lower, include_upper
            )
        raise QueryRejectedError(f"{field}: range on a {mapping.type} field is not modelled")


def _java_message(error: Any) -> str:
    return f"{error.getClass().getSimpleName()}: {error.getMessage()}"


def _term_of(query: Any) -> Any:
    return query.getTerm() if hasattr(query, "getTerm") else query.getPrefix()


def _bytes_text(value: Any) -> str | None:
    return None if value is None else str(value.utf8ToString())


def _number(field: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise QueryRejectedError(f"{field}: [{text}] is not a number") from None
    if math.isnan(number):
        raise QueryRejectedError(f"{field}: [{text}] is not a number")
    return number


def _numeric_range(
    field: str,
    kind: str,
    lower: str | None,
    upper: str | None,
    include_lower: bool,
    include_upper: bool,
) -> Any:
    """``NumberFieldMapper``'s range: a ``long`` rounds decimal bounds inwards."""
    if kind == "long":
        low, high = -(2**63), 2**63 - 1
        if lower is not None:
            value = _number(field, lower)
            low = math.ceil(value) if include_lower else math.floor(value) + 1
        if upper is not None:
            value = _number(field, upper)
            high = math.floor(value) if include_upper else math.ceil(value) - 1
        if low > high:
            return java_class("org.apache.lucene.search.MatchNoDocsQuery")()
        return java_class("org.apache.lucene.document.LongPoint").newRangeQuery(field, low, high)
    point = java_class("org.apache.lucene.document.DoublePoint")
    dlow = -math.inf if lower is None else _number(field, lower)
    dhigh = math.inf if upper is None else _number(field, upper)
    if lower is not None and not include_lower:
        dlow = float(point.nextUp(dlow))
    if upper is not None and not include_upper:
        dhigh = float(point.nextDown(dhigh))
    return point.newRangeQuery(field, dlow, dhigh)


# -- verdicts ------------------------------------------------------------------------------


def _verdicts(queries: dict[str, list[str]], corpus: SampleCorpus) -> Verdicts:
    from llmsiem.conformance.verdicts import Verdicts

    start_jvm()
    index = LuceneIndex(corpus.events, template_fields())
    verdicts = Verdicts()
    for rule, rule_queries in queries.items():
        matched: set[str] = set()
        try:
            for query in rule_queries:
                matched |= index.search(query)
        except QueryRejectedError as error:
            verdicts.errors[rule] = str(error)
            continue
        verdicts.detections[rule] = frozenset(matched)
    return verdicts


def lucene_verdicts(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """What real Lucene says for each compiled ``elastic-lucene``/``opensearch-lucene``
    detection rule (several queries of one rule are OR-ed)."""
    queries = {
        compiled.name or compiled.rule_id: [str(q) for q in compiled.queries]
        for compiled in result.compiled
        if compiled.kind == "detection"
    }
    return _verdicts(queries, corpus)


def kibana_lucene_rules(result: CompileResult) -> dict[str, list[str]]:
    """The ``query`` of every Kibana rule document written in Lucene."""
    return {
        compiled.name or compiled.rule_id: [str(d["query"]) for d in compiled.queries]
        for compiled in result.compiled
        if compiled.queries
        and all(isinstance(d, dict) and d.get("language") == "lucene" for d in compiled.queries)
    }


def kibana_lucene_verdicts(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """What real Lucene says for the Lucene ``query`` rules of the ``kibana-ndjson`` target."""
    return _verdicts(kibana_lucene_rules(result), corpus)
