"""An evaluator for exactly the LogQL the Loki backend emits, following Grafana's documentation.

No Loki runs here. What is real and what is emulated:

- **Real:** regular expressions run on RE2 (``google-re2``, Google's C++ RE2, whose syntax and
  semantics Go's ``regexp`` package, used by Loki, implements).
- **Emulated, from the documentation and Loki's source:** the query language below.

Events are shipped as one JSON document per log line in the stream ``{service_name="llmsiem"}``.

Operators (Grafana Loki 3.x documentation, grafana.com/docs/loki/latest/query/):

- Stream selector ``{name="v"}`` ("Log queries", "Log stream selector"): ``=``, ``!=``, ``=~``,
  ``!~`` on stream labels; regex matchers are fully anchored.
- Line filters ``|=``, ``!=``, ``|~``, ``!~`` ("Line filter expression"): the log line
  contains the string, or an RE2 match anywhere in the line; case-sensitive.
- ``| json`` ("Parser expression", "JSON"): every JSON property becomes a label; nested keys
  are joined with ``_``; label names are sanitized (characters other than ASCII letters,
  digits and ``_`` become ``_``); arrays are skipped; booleans are ``true``/``false``; a
  name that already is a stream label gets the suffix ``_extracted`` (pkg/logql/log/parser.go).
- Label filters ("Label filter expression"): ``=``, ``!=`` compare strings, ``=~``, ``!~`` are
  RE2 regexes that must match the *whole* label value (Loki anchors them ``^(?:re)$``); a
  missing label compares as the empty string; ``>=`` and friends compare numbers, and a
  missing label fails them (pkg/logql/log/label_filter.go); ``and`` binds tighter than ``or``.
- ``| label_format a="{{ ToLower .b }}"`` ("Labels format expression", "Template
  functions": ``ToLower``); a label with an empty value is the same as no label.
- Metric queries ("Metric queries"): ``count_over_time`` and ``sum_over_time`` (over
  ``| unwrap label``; lines without the label give no sample) of a range ``[d]``,
  ``sum by``/``count without`` aggregations and a comparison. A rule is evaluated at each
  event's time over the window ``(t - d, t]``, as Loki's ruler would at a fine enough step.

Anything else raises :class:`LogQLError`, which the conformance test counts as a failure.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from llmsiem.compiler.compile import CompileResult
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.verdicts import Verdicts

STREAM = {"service_name": "llmsiem"}
Labels = dict[str, str]


class LogQLError(ValueError):
    """A query outside the evaluated LogQL subset, or malformed."""


@cache
def _re2(pattern: str) -> Any:
    """RE2 compiled over UTF-8 bytes (the binding's str API is twice as slow)."""
    try:
        import re2
    except ImportError as error:  # pragma: no cover - a dev dependency
        raise LogQLError("google-re2 is not installed (pip install llmsiem[dev])") from error
    try:
        return re2.compile(pattern.encode())
    except re2.error as error:
        raise LogQLError(f"RE2 rejects {pattern!r}: {error}") from error


# -- log lines and the json parser ----------------------------------------------------------------


def _sanitize(key: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in key)
    return "_" + cleaned if cleaned[:1].isdigit() else cleaned


def _json_labels(value: Any, prefix: str, labels: Labels, stream: Labels) -> None:
    for key, item in value.items():
        name = f"{prefix}_{_sanitize(key)}" if prefix else _sanitize(key)
        if isinstance(item, dict):
            _json_labels(item, name, labels, stream)
            continue
        if isinstance(item, list) or item is None:
            continue  # arrays and nulls are skipped
        if name in stream:
            name += "_extracted"
        if isinstance(item, bool):
            labels[name] = "true" if item else "false"
        elif isinstance(item, str):
            labels[name] = "" if "\ufffd" in item else item
        else:
            labels[name] = json.dumps(item)


@dataclass(frozen=True)
class LogLine:
    """One event as Loki stores it: its time, stream labels and JSON line."""

    time: float
    line: str
    document: dict[str, Any]

    @cached_property
    def parsed(self) -> Labels:
        """Stream labels plus what ``| json`` extracts from the line."""
        labels = dict(STREAM)
        _json_labels(self.document, "", labels, STREAM)
        return labels


def log_line(document: dict[str, Any]) -> LogLine:
    time = datetime.fromisoformat(document["@timestamp"]).timestamp()
    return LogLine(time, json.dumps(document, ensure_ascii=False), document)


# -- label filter expressions ---------------------------------------------------------------------

_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|==|>=|<=|=|>|<)\s*
    (`[^`]*`|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)""",
    re.VERBOSE,
)
Predicate = Callable[[Labels], bool]


def _string(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    if token.startswith('"'):
        try:
            value: str = json.loads(token)  # Go's escapes \\ \" \n \r \t, as JSON's
        except json.JSONDecodeError as error:
            raise LogQLError(f"invalid double-quoted string {token[:40]!r}: {error}") from error
        return value
    raise LogQLError(f"expected a quoted string, got {token!r}")


def _matcher(name: str, op: str, token: str) -> Predicate:
    if token[0] not in '`"':
        number = float(token)
        compare: dict[str, Callable[[float], bool]] = {
            "=": lambda v: v == number,
            "==": lambda v: v == number,
            "!=": lambda v: v != number,
            ">": lambda v: v > number,
            ">=": lambda v: v >= number,
            "<": lambda v: v < number,
            "<=": lambda v: v <= number,
        }

        def numeric(labels: Labels) -> bool:
            if name not in labels:
                return False
            try:
                value = float(labels[name])
            except ValueError:
                return True  # a conversion error keeps the line (with __error__)
            return compare[op](value)

        return numeric
    text = _string(token)
    if op in ("=", "=="):
        return lambda labels: labels.get(name, "") == text
    if op == "!=":
        return lambda labels: labels.get(name, "") != text
    if op in ("=~", "!~"):
        regex = _re2(text)
        want = op == "=~"
        return lambda labels: (regex.fullmatch(labels.get(name, "").encode()) is not None) == want
    raise LogQLError(f"operator {op} needs a number")


class _FilterParser:
    """``a and b``, ``a or b``, ``a, b``, parentheses; ``and`` binds tighter than ``or``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _word(self, word: str) -> bool:
        self._skip()
        if self.text.startswith(word, self.pos):
            end = self.pos + len(word)
            if word == "," or end == len(self.text) or not self.text[end].isalnum():
                self.pos = end
                return True
        return False

    def parse(self) -> Predicate:
        predicate = self._or()
        self._skip()
        if self.pos != len(self.text):
            raise LogQLError(f"unexpected label filter text: {self.text[self.pos :][:40]!r}")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._word("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda labels: any(p(labels) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._primary()]
        while self._word("and") or self._word(","):
            parts.append(self._primary())
        return parts[0] if len(parts) == 1 else (lambda labels: all(p(labels) for p in parts))

    def _primary(self) -> Predicate:
        self._skip()
        if self.text.startswith("(", self.pos):
            self.pos += 1
            inner = self._or()
            self._skip()
            if not self.text.startswith(")", self.pos):
                raise LogQLError("unbalanced parenthesis in label filter")
            self.pos += 1
            return inner
        match = _MATCHER.match(self.text, self.pos)
        if not match:
            raise LogQLError(f"unsupported label filter: {self.text[self.pos :][:40]!r}")
        self.pos = match.end()
        return _matcher(*match.groups())


# -- log queries ----------------------------------------------------------------------------------

_LINE_FILTER = re.compile(r'\s*(\|=|\|~|!=|!~)\s*(`[^`]*`|"(?:[^"\\]|\\.)*")')


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """Each character of ``text`` from ``start`` outside LogQL strings (backquoted, or
    double-quoted with backslash escapes), with its index."""
    index, quote = start, ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in '`"':
            quote = char
        else:
            yield index, char
        index += 1


def _split_stages(text: str) -> list[str]:
    stages, start = [], 0
    for index, char in _unquoted(text):
        if char == "|":
            stages.append(text[start:index])
            start = index + 1
    stages.append(text[start:])
    return [s.strip() for s in stages]


Stage = Callable[[Labels], Labels | None]
_TO_LOWER = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_]*)="\{\{ ToLower \.([A-Za-z_][A-Za-z0-9_]*) \}\}"\s*'
)


def _filter_stage(text: str) -> Stage:
    predicate = _FilterParser(text).parse()
    return lambda labels: labels if predicate(labels) else None


def _label_format_stage(text: str) -> Stage:
    """``label_format a="{{ ToLower .b }}", ...`` (the only template form emitted)."""
    renames = []
    for part in text.split(","):
        match = _TO_LOWER.fullmatch(part)
        if not match:
            raise LogQLError(f"unsupported label_format: {part[:60]!r}")
        renames.append((match.group(1), match.group(2)))

    def apply(labels: Labels) -> Labels:
        updated = dict(labels)
        for target, source in renames:
            updated[target] = labels.get(source, "").lower()
        return {k: v for k, v in updated.items() if v != ""}

    return apply


@dataclass
class LogQuery:
    """Stream selector, line filters, ``| json``, label filters and formats, ``| unwrap``."""

    stream: Predicate
    line_filters: list[Callable[[str], bool]]
    stages: list[Stage]
    unwrap: str | None

    def labels(self, entry: LogLine) -> Labels | None:
        """The labels of a line that passes the query, or None."""
        if not self.stream(STREAM) or not all(f(entry.line) for f in self.line_filters):
            return None
        labels: Labels | None = dict(entry.parsed)
        for stage in self.stages:
            if labels is None:
                return None
            labels = stage(labels)
        return labels


def _line_filter(op: str, token: str) -> Callable[[str], bool]:
    text = _string(token)
    if op in ("|=", "!="):
        return lambda line: (text in line) == (op == "|=")
    regex = _re2(text)
    return lambda line: (regex.search(line.encode()) is not None) == (op == "|~")


def parse_log_query(text: str) -> LogQuery:
    match = re.match(r"\s*\{([^}]*)\}", text)
    if not match:
        raise LogQLError(f"a log query starts with a stream selector: {text[:40]!r}")
    stream = _FilterParser(match.group(1)).parse()
    rest = text[match.end() :]
    line_filters = []
    while line := _LINE_FILTER.match(rest):
        line_filters.append(_line_filter(*line.groups()))
        rest = rest[line.end() :]
    stages = _split_stages(rest)
    if stages[0]:
        raise LogQLError(f"unsupported text after the line filters: {stages[0][:40]!r}")
    if stages[1:2] != ["json"]:
        raise LogQLError("the emitted queries parse lines with | json first")
    pipeline: list[Stage] = []
    unwrap = None
    for stage in stages[2:]:
        if unwrap is not None:
            raise LogQLError(f"unsupported stage after unwrap: {stage[:40]!r}")
        if stage.startswith("unwrap "):
            unwrap = stage.split()[1]
        elif stage.startswith("label_format "):
            pipeline.append(_label_format_stage(stage[len("label_format ") :]))
        else:
            pipeline.append(_filter_stage(stage))
    return LogQuery(stream, line_filters, pipeline, unwrap)


# -- metric queries -------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
Series = dict[tuple[tuple[str, str], ...], float]


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for index, char in _unquoted(text, start):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise LogQLError("unbalanced parenthesis in metric query")


MetricNode = Callable[[list[LogLine], float], Series]


def _range(function: str, body: str) -> MetricNode:
    match = re.fullmatch(r"(.*)\[(\d+)([smhd])\]\s*", body, re.DOTALL)
    if not match:
        raise LogQLError(f"a range aggregation needs a range: {body[-40:]!r}")
    query = parse_log_query(match.group(1))
    width = int(match.group(2)) * _UNITS[match.group(3)]
    if (function == "sum_over_time") != (query.unwrap is not None):
        raise LogQLError(f"{function} with unwrap {query.unwrap!r} is not supported")

    def evaluate(lines: list[LogLine], at: float) -> Series:
        series: Series = defaultdict(float)
        for entry in lines:
            if not at - width < entry.time <= at:
                continue
            labels = query.labels(entry)
            if labels is None:
                continue
            if query.unwrap is None:
                value = 1.0
            elif not labels.get(query.unwrap):
                continue  # no sample from a line without the unwrapped label
            else:
                try:
                    value = float(labels.pop(query.unwrap))
                except ValueError as error:
                    raise LogQLError(f"unwrap of a non-number: {error}") from error
            series[tuple(sorted(labels.items()))] += value
        return series

    return evaluate


def _aggregate(function: str, mode: str, names: list[str], inner: MetricNode) -> MetricNode:
    def evaluate(lines: list[LogLine], at: float) -> Series:
        out: Series = defaultdict(float)
        for key, value in inner(lines, at).items():
            labels = dict(key)
            if mode == "by":
                kept = {n: labels.get(n, "") for n in names}
            else:
                kept = {n: v for n, v in labels.items() if n not in names}
            group = tuple(sorted((n, v) for n, v in kept.items() if v != ""))
            out[group] += value if function == "sum" else 1.0
        return out

    return evaluate


def parse_metric(text: str) -> MetricNode:
    text = text.strip()
    outer = re.fullmatch(r"(.*\))\s*(>=|>|<=|<|==|!=)\s*(-?\d+(?:\.\d+)?)", text, re.DOTALL)
    if outer:
        inner, op, number = parse_metric(outer.group(1)), outer.group(2), float(outer.group(3))

        def compare(lines: list[LogLine], at: float) -> Series:
            return {k: v for k, v in inner(lines, at).items() if _COMPARE[op](v, number)}

        return compare
    aggregate = re.match(r"(sum|count)\s+(by|without)\s*\(([^)]*)\)\s*\(", text)
    if aggregate:
        end = _matching_paren(text, aggregate.end() - 1)
        if end != len(text) - 1:
            raise LogQLError(f"unexpected text after an aggregation: {text[end:][:40]!r}")
        names = [n.strip() for n in aggregate.group(3).split(",") if n.strip()]
        inner_node = parse_metric(text[aggregate.end() : end])
        return _aggregate(aggregate.group(1), aggregate.group(2), names, inner_node)
    ranged = re.match(r"(count_over_time|sum_over_time)\s*\(", text)
    if ranged and _matching_paren(text, ranged.end() - 1) == len(text) - 1:
        return _range(ranged.group(1), text[ranged.end() : -1])
    raise LogQLError(f"unsupported metric query: {text[:60]!r}")


# -- verdicts -------------------------------------------------------------------------------------


def logql_verdicts(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """Verdicts of the ``loki-logql`` queries: log queries over the whole corpus, metric
    queries on each correlation case."""
    lines = [log_line(e) for e in corpus.events]
    verdicts = Verdicts()
    for compiled in result.compiled:
        rule = str(compiled.name)
        try:
            if compiled.kind == "detection":
                queries = [parse_log_query(str(q)) for q in compiled.queries]
                verdicts.detections[rule] = frozenset(
                    str(entry.document["event"]["id"])
                    for entry in lines
                    if any(q.labels(entry) is not None for q in queries)
                )
                continue
            metrics = [parse_metric(str(q)) for q in compiled.queries]
            for case in (c for c in corpus.correlation_cases if c.rule == rule):
                case_lines = [log_line(e) for e in case.events]
                verdicts.correlations[rule, case.label] = any(
                    metric(case_lines, entry.time) for metric in metrics for entry in case_lines
                )
        except LogQLError as error:
            verdicts.errors[rule] = str(error)
    return verdicts
