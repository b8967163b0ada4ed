"""ES|QL conformance: compiled ES|QL queries checked by Elastic's own parser and analyzer,
then evaluated on the corpus as Elasticsearch evaluates them.

Parsing and type-checking are real: ``detection-rules-esql-py`` (module ``esql``, Elastic's
offline ES|QL parser with the 8.19 and 9.x grammars and function catalogues) needs Python
>= 3.12, so it runs in a second venv (``make esql-venv``) as a subprocess
(:mod:`llmsiem.conformance.esql_parser`), with a schema made from the shipped index
template. A query it rejects for any checked stack version is an error.

Evaluation is emulated: no Elasticsearch runs here. The evaluator walks the AST that the
parser returns and implements exactly the commands and functions the ES|QL backend emits,
as the ES|QL reference (https://www.elastic.co/docs/reference/query-languages/esql) defines
them:

- ``FROM ... METADATA _id`` (commands/source-commands#esql-from): one row per document,
  fields as the index template maps them; a field with several values is multi-valued;
- ``WHERE`` (commands/processing-commands#esql-where): keeps rows whose condition is true
  (null drops the row);
- ``EVAL`` (#esql-eval), ``STATS ... BY`` (#esql-stats-by): groups by every listed column,
  a null key being a group of its own, with ``count()``, ``count_distinct``, ``sum``,
  ``min``, ``max``;
- ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``IN`` (functions-operators/operators):
  case-sensitive; ``AND``/``OR``/``NOT`` with three-valued logic, a comparison with null
  is null and ``NOT`` null is null (esql-null-values); ``IS NULL`` / ``IS NOT NULL``;
- ``LIKE`` (operators#esql-like): the whole value, ``*`` any string, ``?`` one character,
  ``\\`` escapes them; case-sensitive;
- ``RLIKE`` (operators#esql-rlike): the whole value must match the Lucene regular
  expression (query-dsl/regexp-syntax), case-sensitive; matched by real Lucene
  (:mod:`llmsiem.conformance.lucene_regexp`);
- ``TO_LOWER`` (functions-operators/string-functions/to_lower): lower-cases every value
  (Java ``toLowerCase(Locale.ROOT)``, read here as Python's ``str.lower``);
- ``COALESCE`` and ``CASE``
  (functions-operators/conditional-functions-and-expressions#esql-coalesce, #esql-case),
  ``MV_CONCAT`` (functions-operators/mv-functions#esql-mv_concat): the values joined,
  ``DATE_TRUNC`` (date-time-functions#esql-date_trunc) with fixed-length intervals;
- multi-valued fields (esql-multivalued-fields; Elasticsearch PR #102417, "single-value
  functions processing multi-values"): comparisons, ``LIKE``, ``RLIKE`` and ``IN`` on a
  multi-valued value give null with a warning, so such a row never matches them;
  aggregations take every value.

String literals are unescaped as the ES|QL lexer does (``\\t \\n \\r \\" \\\\``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmsiem.compiler.compile import CompiledRule
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.eql import field_mappings, indexed_values
from llmsiem.conformance.lucene_regexp import LuceneSyntaxError, lucene_fullmatch
from llmsiem.conformance.verdicts import Verdicts
from llmsiem.connectors.elastic import index_template

__all__ = [
    "ESQL_VERSIONS",
    "EsqlCheck",
    "EsqlEvaluationError",
    "check_esql",
    "compiled_esql",
    "esql_verdicts",
    "run_query",
]

# The oldest and newest grammars the package ships: a query must parse in both.
ESQL_VERSIONS = ("8.19.0", "9.5.0")
ESQL_PYTHON_ENV = "LLMSIEM_ESQL_PYTHON"
_REPO = Path(__file__).resolve().parents[3]
_DURATION = re.compile(r"(\d+)\s*([a-z]+)")
_UNIT_MS = {
    "millisecond": 1,
    "milliseconds": 1,
    "ms": 1,
    "second": 1000,
    "seconds": 1000,
    "s": 1000,
    "minute": 60_000,
    "minutes": 60_000,
    "m": 60_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
    "h": 3_600_000,
    "day": 86_400_000,
    "days": 86_400_000,
    "d": 86_400_000,
    "week": 604_800_000,
    "weeks": 604_800_000,
}
_NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
_ESQL_TYPES = _NUMERIC | {"keyword", "wildcard", "boolean", "date", "ip", "text"}


class EsqlEvaluationError(ValueError):
    """A construct outside the subset this evaluator models."""


@dataclass
class EsqlCheck:
    """Elastic's parser on one query: error per stack version (None: accepted), newest AST."""

    errors: dict[str, str | None]
    ast: dict[str, Any] | None

    @property
    def error(self) -> str | None:
        failed = [f"{v}: {e}" for v, e in self.errors.items() if e is not None]
        return "; ".join(failed) or None


def esql_python() -> Path:
    """The interpreter of the ES|QL check venv (``make esql-venv``)."""
    configured = os.environ.get(ESQL_PYTHON_ENV)
    python = Path(configured) if configured else _REPO / ".venv-esql" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(
            f"{python} not found: run `make esql-venv` (Elastic's ES|QL parser needs "
            f"Python >= 3.12 in its own venv) or set {ESQL_PYTHON_ENV}"
        )
    return python


_CHECKED: dict[tuple[str, tuple[str, ...], str], EsqlCheck] = {}


def check_esql(queries: list[str], versions: tuple[str, ...] = ESQL_VERSIONS) -> list[EsqlCheck]:
    """Parse and type-check queries with Elastic's ES|QL parser (one subprocess call for the
    queries not checked before in this process: the ANTLR parser is slow)."""
    mapping = index_template()["template"]["mappings"]
    key = json.dumps(mapping, sort_keys=True)
    todo = sorted({q for q in queries if (q, versions, key) not in _CHECKED})
    if todo:
        for query, check in zip(todo, _run_parser(todo, versions, mapping), strict=True):
            _CHECKED[query, versions, key] = check
    return [_CHECKED[q, versions, key] for q in queries]


def _run_parser(
    queries: list[str], versions: tuple[str, ...], mapping: dict[str, Any]
) -> list[EsqlCheck]:
    request = {"mapping": mapping, "versions": list(versions), "queries": queries}
    runner = Path(__file__).with_name("esql_parser.py")
    done = subprocess.run(
        # -I: isolated, so the runner's folder (which holds this esql.py) is not on sys.path
        [str(esql_python()), "-I", str(runner)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ES|QL parser failed: {done.stderr.strip()[-2000:]}")
    answer = json.loads(done.stdout)
    return [EsqlCheck(r["errors"], r["ast"]) for r in answer["results"]]


# -- rows ------------------------------------------------------------------------------


def _esql_value(field: str, values: list[Any]) -> Any:
    kind = field_mappings()[field]["type"]
    if kind == "date":
        values = [int(datetime.fromisoformat(str(v)).timestamp() * 1000) for v in values]
    if kind in ("keyword", "wildcard", "ip"):
        values = sorted({str(v) for v in values})
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _row(document: dict[str, Any]) -> dict[str, Any]:
    row = {
        field: _esql_value(field, indexed_values(document, field))
        for field, spec in field_mappings().items()
        if spec["type"] in _ESQL_TYPES
    }
    row["_id"] = str(document["event"]["id"])
    row["_index"] = "logs-llm-default"
    row["_version"] = 1
    return row


# -- expressions -----------------------------------------------------------------------

_UNESCAPE = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        char = match.group(1)
        if char not in _UNESCAPE:
            raise EsqlEvaluationError(f"invalid escape \\{char} in string {text!r}")
        return _UNESCAPE[char]

    return re.sub(r"\\(.)", replace, text, flags=re.DOTALL)


def _duration_ms(text: str) -> int:
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in _UNIT_MS:
        raise EsqlEvaluationError(f"unsupported time interval {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def _literal(node: dict[str, Any]) -> Any:
    kind, value = node.get("kind"), node["value"]
    if kind in ("string", "keyword"):
        return _unescape(str(value))
    if kind == "time_duration":
        return _duration_ms(str(value))
    if kind in ("boolean", "null", "integer", "long", "double", None):
        return value
    raise EsqlEvaluationError(f"unsupported literal kind {kind!r}")


def _single(value: Any) -> Any:
    """A multi-valued input to a single-value operator gives null."""
    return None if isinstance(value, list) else value


@lru_cache(maxsize=8192)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    if escaped:
        raise EsqlEvaluationError(f"LIKE pattern {pattern!r} ends with an escape")
    return re.compile("".join(parts), re.DOTALL)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    left, right = _single(left), _single(right)
    if left is None or right is None:
        return None
    if isinstance(left, bool) != isinstance(right, bool):
        raise EsqlEvaluationError(f"cannot compare {left!r} {op} {right!r}")
    numbers = isinstance(left, int | float) and isinstance(right, int | float)
    if not numbers and type(left) is not type(right):
        raise EsqlEvaluationError(f"cannot compare {left!r} {op} {right!r}")
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: bool(a == b),
        "!=": lambda a, b: bool(a != b),
        "<": lambda a, b: bool(a < b),
        "<=": lambda a, b: bool(a <= b),
        ">": lambda a, b: bool(a > b),
        ">=": lambda a, b: bool(a >= b),
    }
    return comparisons[op](left, right)


def _and(a: Any, b: Any) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Any, b: Any) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def evaluate(node: dict[str, Any], row: dict[str, Any]) -> Any:
    """The value of an ES|QL expression (parser AST as JSON) on one row; None is null."""
    kind = node["_"]
    if kind == "ColumnRef":
        if node["name"] not in row:
            raise EsqlEvaluationError(f"unknown column {node['name']!r}")
        return row[node["name"]]
    if kind == "Literal":
        return _literal(node)
    if kind == "BinaryExpr":
        op = node["op"].lower()
        left = evaluate(node["left"], row)
        if op == "and":
            return _and(left, evaluate(node["right"], row))
        if op == "or":
            return _or(left, evaluate(node["right"], row))
        if op == "in":
            return _in(left, node["right"], row)
        return _compare(op, left, evaluate(node["right"], row))
    if kind == "FunctionCall":
        return _function(node["name"].lower(), node["args"], row)
    raise EsqlEvaluationError(f"unsupported expression {kind}")


def _in(value: Any, listed: dict[str, Any], row: dict[str, Any]) -> bool | None:
    if listed["_"] != "FunctionCall" or listed["name"] != "__values__":
        raise EsqlEvaluationError("IN expects a value list")
    value = _single(value)
    items = [evaluate(arg, row) for arg in listed["args"]]
    if value is None:
        return None
    if any(_compare("==", value, item) for item in items if item is not None):
        return True
    return None if any(item is None for item in items) else False


def _function(name: str, args: list[dict[str, Any]], row: dict[str, Any]) -> Any:
    if name == "not":
        value = evaluate(args[0], row)
        return None if value is None else not value
    if name in ("is_null", "is_not_null"):
        missing = evaluate(args[0], row) is None
        return missing if name == "is_null" else not missing
    if name in ("like", "rlike"):
        value, pattern = _single(evaluate(args[0], row)), evaluate(args[1], row)
        if value is None or pattern is None:
            return None
        if name == "like":
            return _like_regex(pattern).fullmatch(value) is not None
        return lucene_fullmatch(pattern, value)
    if name == "to_lower":
        value = evaluate(args[0], row)
        if isinstance(value, list):
            return [v.lower() for v in value]
        return None if value is None else str(value).lower()
    if name == "coalesce":
        return next((v for v in (evaluate(a, row) for a in args) if v is not None), None)
    if name == "mv_concat":
        value, separator = evaluate(args[0], row), evaluate(args[1], row)
        if value is None or separator is None:
            return None
        return str(separator).join(str(v) for v in _values_of(value))
    if name == "case":
        values = [evaluate(arg, row) for arg in args]
        for condition, result in zip(values[0::2], values[1::2], strict=False):
            if condition is True:
                return result
        return values[-1] if len(values) % 2 else None
    if name == "date_trunc":
        interval, timestamp = evaluate(args[0], row), _single(evaluate(args[1], row))
        return None if timestamp is None else timestamp - timestamp % interval
    raise EsqlEvaluationError(f"unsupported function {name}")


# -- commands --------------------------------------------------------------------------


def _values_of(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _aggregate(call: dict[str, Any], rows: list[dict[str, Any]]) -> Any:
    if call["_"] != "FunctionCall":
        raise EsqlEvaluationError("STATS expects aggregate functions")
    name, args = call["name"].lower(), call["args"]
    if name == "count" and (not args or args[0]["_"] == "Wildcard"):
        return len(rows)
    values = [v for row in rows for v in _values_of(evaluate(args[0], row))]
    if name == "count":
        return len(values)
    if name == "count_distinct":
        return len(set(values))
    if name in ("sum", "min", "max") and not values:
        return None
    if name == "sum":
        return sum(values)
    if name in ("min", "max"):
        return min(values) if name == "min" else max(values)
    raise EsqlEvaluationError(f"unsupported aggregate {name}")


def _stats(command: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if command.get("inline") or command.get("grouping_aliases") or command.get("aggregate_filters"):
        raise EsqlEvaluationError("only STATS aggregates BY columns is modelled")
    keys = command["grouping"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        combos: list[tuple[Any, ...]] = [()]
        for key in keys:
            values = _values_of(row[key]) or [None]
            combos = [(*c, v) for c in combos for v in values]
        for combo in combos:
            groups.setdefault(combo, []).append(row)
    result = []
    for combo, members in groups.items():
        out = {alias["name"]: _aggregate(alias["expr"], members) for alias in command["aggregates"]}
        out.update(zip(keys, combo, strict=True))
        result.append(out)
    return result


def table(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows ``FROM`` reads for the documents (build once, query many times)."""
    return [_row(document) for document in documents]


def run_query(ast: dict[str, Any], source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows an ES|QL query (parser AST as JSON) returns over a :func:`table`."""
    rows: list[dict[str, Any]] = []
    for command in ast["commands"]:
        kind = command["_"]
        if kind == "FromCommand":
            rows = list(source)
        elif kind == "WhereCommand":
            rows = [r for r in rows if evaluate(command["predicate"], r) is True]
        elif kind == "EvalCommand":
            rows = [dict(row) for row in rows]  # the table is shared between queries
            for row in rows:
                for alias in command["assignments"]:
                    row[alias["name"]] = evaluate(alias["expr"], row)
        elif kind == "StatsCommand":
            rows = _stats(command, rows)
        else:
            raise EsqlEvaluationError(f"unsupported command {kind}")
    return rows


# -- verdicts --------------------------------------------------------------------------


def compiled_esql(rule: CompiledRule) -> list[str]:
    """The ES|QL queries of a compiled rule (plain target or Kibana rules of language esql)."""
    texts = []
    for query in rule.queries:
        if isinstance(query, str):
            texts.append(query)
        elif isinstance(query, dict) and query.get("language") == "esql":
            texts.append(str(query["query"]))
    return texts


def esql_verdicts(rules: Iterable[CompiledRule], corpus: SampleCorpus) -> Verdicts:
    """What Elasticsearch ES|QL does with each rule's compiled queries on the corpus."""
    selected = [(rule.name or rule.rule_id, rule, compiled_esql(rule)) for rule in rules]
    selected = [item for item in selected if item[2]]
    checks = iter(check_esql([q for _, _, queries in selected for q in queries]))
    cases_by_rule: dict[str, list[Any]] = {}
    for case in corpus.correlation_cases:
        cases_by_rule.setdefault(case.rule, []).append(case)
    verdicts = Verdicts()
    events = table(corpus.events)
    for name, rule, queries in selected:
        results = [next(checks) for _ in queries]
        failed = [r.error for r in results if r.error]
        if failed:
            verdicts.errors[name] = " ".join(" | ".join(str(f) for f in failed).split())
            continue
        asts = [r.ast for r in results if r.ast is not None]
        try:
            if rule.kind == "correlation":
                for case in cases_by_rule.get(name, []):
                    rows = table(case.events)
                    verdicts.correlations[name, case.label] = any(
                        run_query(ast, rows) for ast in asts
                    )
            else:
                verdicts.detections[name] = frozenset(
                    str(row["_id"]) for ast in asts for row in run_query(ast, events)
                )
        except (EsqlEvaluationError, LuceneSyntaxError) as error:
            verdicts.errors[name] = str(error)
    return verdicts
