"""EQL conformance: compiled EQL queries parsed by the reference parser, evaluated as
Elasticsearch evaluates them.

Parsing is real: every query goes through ``eql.parse_query`` of the ``eql`` package
(Elastic's reference implementation) with Elasticsearch syntax, ``with runs`` allowed, and
a schema derived from the shipped index template (``llmsiem setup elastic``), so a type
error (``:true`` on a boolean field) is a parse error here as it is in Elasticsearch.

Evaluation is emulated. The package's own ``PythonEngine`` follows the original EQL's
rules (every string comparison case-insensitive, ``regex`` as Python regex searching
anywhere), and its parser maps ``:``, ``like`` and ``like~`` to one ``wildcard`` function and
``regex``/``regex~`` to one ``match``, losing the case distinction Elasticsearch makes. The
evaluator below therefore walks the same parse with the operator kept and applies the
operators as the Elasticsearch EQL syntax reference defines them
(https://www.elastic.co/docs/reference/query-languages/eql/eql-syntax):

- ``==`` / ``!=`` (#eql-syntax-comparison-operators): exact, case-sensitive for strings;
  ``< <= > >=`` compare numbers;
- ``:`` (#eql-syntax-lookup-operators, "case-insensitive"): whole value, ``*`` and ``?``
  wildcards;
- ``like`` / ``like~`` (#eql-syntax-pattern-comparison-keywords): whole-value wildcard
  match, case-sensitive / case-insensitive (``~``);
- ``regex`` (same section): the whole value must match a Lucene regular expression,
  case-sensitive; matched by real Lucene (:mod:`llmsiem.conformance.lucene_regexp`).
  ``regex~`` (ASCII case folding in Elasticsearch) is not emitted and not modelled;
- ``in`` / ``in~`` (#eql-syntax-lookup-operators): any listed value, case-sensitive /
  insensitive; ``and or not`` (#eql-syntax-logical-operators);
- ``field != null`` / ``== null`` (#eql-syntax-check-field-exists): the field has a value;
- ``sequence by k with maxspan=T [q1] [q2]`` (#eql-sequences) and ``with runs=N``
  (#eql-with-runs-statement): events matching each query in order, strictly later each,
  sharing the join keys (compared exactly, as keyword terms), the last at most T after the
  first. An event whose join key is missing joins no sequence.

Case-insensitive wildcards compare each character with its single-character upper/lower
counterpart, as Elasticsearch's case-insensitive wildcard automata do. Field values come
from the document as the index template maps them: arrays match on any element, ``keyword``
values over ``ignore_above`` are not indexed (match nothing), booleans and numbers keep their
type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from llmsiem.compiler.compile import CompiledRule
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.lucene_regexp import LuceneSyntaxError, lucene_fullmatch
from llmsiem.conformance.verdicts import Verdicts
from llmsiem.connectors.elastic import index_template

__all__ = [
    "EqlEvaluationError",
    "compiled_eql",
    "eql_verdicts",
    "evaluable_query",
    "field_mappings",
    "indexed_values",
    "matches",
    "parse_eql",
    "sequence_fires",
]

_NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
_STRING = {"keyword", "wildcard", "ip", "date", "text", "flattened", "match_only_text"}
_PREDICATES = (":", "like", "like~", "regex", "regex~")


class EqlEvaluationError(ValueError):
    """A construct outside the subset this evaluator models."""


def _eql() -> Any:
    try:
        import eql
    except ImportError as error:  # pragma: no cover - eql is a dev dependency
        raise RuntimeError(
            "the EQL conformance check needs the 'eql' package (dev extra)"
        ) from error
    return eql


@lru_cache(maxsize=1)
def field_mappings() -> dict[str, dict[str, Any]]:
    """Dotted field name -> its mapping in the shipped index template."""
    fields: dict[str, dict[str, Any]] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")
            else:
                fields[prefix + name] = spec

    walk(index_template()["template"]["mappings"]["properties"], "")
    return fields


def _schema_tree() -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, spec in field_mappings().items():
        kind = spec["type"]
        if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
            continue
        leaf = "number" if kind in _NUMERIC else "boolean" if kind == "boolean" else "string"
        *parents, last = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = leaf
    return tree


@lru_cache(maxsize=1)
def _schema() -> Any:
    return _eql().Schema({"generic": _schema_tree()}, allow_any=True, allow_generic=True)


def _config() -> Any:
    eql = _eql()
    parser = eql.parser
    return parser.ParserConfig(
        parser.elasticsearch_syntax,
        parser.allow_runs,
        _schema(),
    )


def parse_eql(query: str) -> Any:
    """The reference parser's AST of ``query``; raises ``eql.EqlError`` when rejected."""
    with _config():
        return _eql().parse_query(query)


@lru_cache(maxsize=4096)
def _parse_keeping_operators(query: str) -> Any:
    """The same parse, with ``:``/``like``/``regex`` (and their ``~`` forms) kept as the
    function name instead of the reference parser's case-blind ``wildcard``/``match``."""
    eql = _eql()
    from eql.parser import LarkToEQL, lark_parser

    class Walker(LarkToEQL):  # type: ignore[misc]
        def string_predicate(self, node: Any) -> Any:
            info = super().string_predicate(node)
            info.node = eql.ast.FunctionCall(str(node["STRING_PREDICATE"]), info.node.arguments)
            return info

    text = query if query.endswith("\n") else query + "\n"
    with _config(), eql.parser.ParserConfig(implied_any=False, implied_base=False):
        tree = lark_parser.parse(text, start="piped_query")
        node = Walker(text).visit(tree)
    return getattr(node, "node", node)


# -- field values ----------------------------------------------------------------------


def indexed_values(document: dict[str, Any], field: str) -> list[Any]:
    """The indexed values of a field: arrays flattened, unindexable keywords dropped."""
    found: list[Any] = [document]
    for part in field.split("."):
        nxt: list[Any] = []
        for item in found:
            if isinstance(item, dict) and part in item:
                value = item[part]
                nxt.extend(value if isinstance(value, list) else [value])
            elif isinstance(item, list):
                nxt.extend(i[part] for i in item if isinstance(i, dict) and part in i)
        found = nxt
    flat = [v for v in _flatten(found) if v is not None]
    spec = field_mappings().get(field, {})
    if spec.get("type") == "keyword" and "ignore_above" in spec:
        flat = [v for v in flat if not (isinstance(v, str) and len(v) > spec["ignore_above"])]
    return flat


def _flatten(values: Iterable[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


def _field_name(node: Any) -> str:
    return ".".join([node.base, *map(str, node.path)])


# -- operators -------------------------------------------------------------------------


def _alternate_case(char: str) -> str:
    """The single-character other case of ``char`` (itself when there is none)."""
    other = char.upper() if char.islower() else char.lower()
    return other if len(other) == 1 else char


@lru_cache(maxsize=8192)
def _wildcard_regex(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif insensitive and _alternate_case(char) != char:
            parts.append("[" + re.escape(char) + re.escape(_alternate_case(char)) + "]")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _string_predicate(op: str, values: list[Any], patterns: list[str]) -> bool:
    strings = [v for v in values if isinstance(v, str)]
    for pattern in patterns:
        for value in strings:
            if op in (":", "like", "like~"):
                if _wildcard_regex(pattern, op != "like").fullmatch(value):
                    return True
            elif op == "regex~":
                raise EqlEvaluationError("regex~ is not modelled (the backend emits regex)")
            elif lucene_fullmatch(pattern, value):
                return True
    return False


def _literal(node: Any) -> Any:
    eql = _eql()
    if isinstance(node, eql.ast.Literal):
        return node.value
    raise EqlEvaluationError(f"expected a literal, got {node}")


def _equal(value: Any, literal: Any) -> bool:
    if isinstance(literal, bool) or isinstance(value, bool):
        return value is literal
    if isinstance(literal, int | float) and isinstance(value, int | float):
        return float(value) == float(literal)
    return isinstance(value, str) and value == literal


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "==":
        return _equal(value, literal)
    if op == "!=":
        return not _equal(value, literal)
    if not (isinstance(value, int | float) and not isinstance(value, bool)):
        return False
    return bool(
        {
            "<": value < literal,
            "<=": value <= literal,
            ">": value > literal,
            ">=": value >= literal,
        }[op]
    )


def matches(node: Any, document: dict[str, Any]) -> bool:
    """Whether an EQL condition (operator-keeping AST) holds for one document."""
    ast = _eql().ast
    if isinstance(node, ast.And):
        return all(matches(term, document) for term in node.terms)
    if isinstance(node, ast.Or):
        return any(matches(term, document) for term in node.terms)
    if isinstance(node, ast.Not):
        return not matches(node.term, document)
    if isinstance(node, ast.Boolean):
        return bool(node.value)
    if isinstance(node, ast.IsNull | ast.IsNotNull):
        present = bool(indexed_values(document, _field_name(node.expr)))
        return present if isinstance(node, ast.IsNotNull) else not present
    if isinstance(node, ast.FunctionCall) and node.name in _PREDICATES:
        field, *patterns = node.arguments
        return _string_predicate(
            node.name, indexed_values(document, _field_name(field)), [_literal(p) for p in patterns]
        )
    if isinstance(node, ast.Comparison):
        if not isinstance(node.left, ast.Field):
            raise EqlEvaluationError(f"unsupported comparison {node}")
        literal = _literal(node.right)
        values = indexed_values(document, _field_name(node.left))
        if node.comparator == "!=":
            return bool(values) and not any(_equal(v, literal) for v in values)
        return any(_compare(v, node.comparator, literal) for v in values)
    if isinstance(node, ast.InSet):
        values = indexed_values(document, _field_name(node.expression))
        listed = [_literal(c) for c in node.container]
        return any(_equal(v, item) for v in values for item in listed)
    raise EqlEvaluationError(f"unsupported EQL construct {type(node).__name__}: {node}")


# -- queries ---------------------------------------------------------------------------


def _timestamp(document: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(document["@timestamp"])).timestamp()


def _join_key(document: dict[str, Any], fields: list[Any]) -> tuple[str, ...] | None:
    key = []
    for field in fields:
        values = indexed_values(document, _field_name(field))
        if len(values) != 1:
            return None
        key.append(str(values[0]))
    return tuple(key)


def sequence_fires(sequence: Any, documents: list[dict[str, Any]]) -> bool:
    """Whether an EQL ``sequence`` matches in the documents (ordered by ``@timestamp``)."""
    if sequence.close is not None:
        raise EqlEvaluationError("sequence ... until is not modelled")
    span = sequence.max_span.as_milliseconds() / 1000 if sequence.max_span else float("inf")
    stages = sequence.queries
    last = len(stages) - 1
    # best[k][key]: latest start time of a partial sequence whose stage k is matched
    best: list[dict[tuple[str, ...], float]] = [{} for _ in stages]
    order = sorted(range(len(documents)), key=lambda i: (_timestamp(documents[i]), i))
    for index in order:
        document, ts = documents[index], _timestamp(documents[index])
        for k in range(last, -1, -1):
            stage = stages[k]
            if not _event_matches(stage.query, document):
                continue
            key = _join_key(document, stage.join_values)
            if key is None:
                continue
            start = ts if k == 0 else best[k - 1].get(key)
            if start is None or ts - start > span:
                continue
            if k == last:
                return True
            best[k][key] = max(best[k].get(key, start), start)
    return False


def _event_matches(query: Any, document: dict[str, Any]) -> bool:
    if query.event_type != "any":
        raise EqlEvaluationError(f"event category {query.event_type!r} is not modelled")
    return matches(query.query, document)


def evaluable_query(query: str) -> Any:
    """The event query or sequence of ``query``, operators kept, for :func:`matches` /
    :func:`sequence_fires` (after :func:`parse_eql` has accepted it)."""
    piped = _parse_keeping_operators(query)
    if piped.pipes:
        raise EqlEvaluationError("pipes are not modelled")
    return piped.first


def compiled_eql(rule: CompiledRule) -> list[str]:
    """The EQL queries of a compiled rule (plain target or Kibana rules of language eql)."""
    texts = []
    for query in rule.queries:
        if isinstance(query, str):
            texts.append(query)
        elif isinstance(query, dict) and query.get("language") == "eql":
            texts.append(str(query["query"]))
    return texts


def eql_verdicts(rules: Iterable[CompiledRule], corpus: SampleCorpus) -> Verdicts:
    """What Elasticsearch EQL does with each rule's compiled queries on the corpus."""
    ast = _eql().ast
    verdicts = Verdicts()
    cases_by_rule: dict[str, list[Any]] = {}
    for case in corpus.correlation_cases:
        cases_by_rule.setdefault(case.rule, []).append(case)
    for rule in rules:
        name = rule.name or rule.rule_id
        queries = compiled_eql(rule)
        if not queries:
            continue
        try:
            for query in queries:
                parse_eql(query)
            firsts = [evaluable_query(q) for q in queries]
            if rule.kind == "correlation":
                for case in cases_by_rule.get(name, []):
                    verdicts.correlations[name, case.label] = any(
                        sequence_fires(f, case.events) if isinstance(f, ast.Sequence) else False
                        for f in firsts
                    )
            else:
                verdicts.detections[name] = frozenset(
                    str(event["event"]["id"])
                    for event in corpus.events
                    if any(_event_matches(f, event) for f in firsts)
                )
        except (_eql().EqlError, EqlEvaluationError, LuceneSyntaxError) as error:
            verdicts.errors[name] = " ".join(str(error).split())
    return verdicts
