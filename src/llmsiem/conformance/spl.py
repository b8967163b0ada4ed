"""An evaluator for exactly the SPL the Splunk backends emit, following Splunk's documentation.

No Splunk runs here. What is real and what is emulated:

- **Real:** regular expressions run on PCRE2 (the ``pcre2`` package, libpcre2 10.4x), compiled
  as Splunk compiles them: UTF-8, without Unicode properties for ``\\w``/``\\s``/``\\d``.
- **Emulated, from the documentation:** the search language, field extraction and the
  streaming commands below. Each operator cites the page it follows.

Events are indexed as the HEC sink ships them (``index=llm``, ``sourcetype=llmsiem:telemetry``,
``KV_MODE=json``): nested keys become dotted field names, a JSON array ``a`` becomes the
multivalue field ``a{}``, booleans the strings ``true``/``false``.

Operators (Splunk Enterprise 9.x documentation, help.splunk.com):

- ``search`` (Search Reference, "search"; Search Manual, "Boolean expressions with logical
  operators"): AND is implied between terms; the search command evaluates NOT, then OR, then
  AND; ``field=value`` compares values case-insensitively ("Use CASE() and TERM() to match
  phrases": searches are case-insensitive by default) while field names are case-sensitive;
  ``*`` matches any run of characters and ``field=*`` any value; ``field IN (a, b)`` is an OR;
  a comparison ``field>=n`` is numeric when both sides are numbers.
- Quoted strings (Search Manual, "Backslashes"): ``\\\\`` passes one backslash and ``\\"`` a
  quote; other backslashes reach the command (and its regex) unchanged; a backslash cannot
  escape ``*``.
- ``regex field="re"`` / ``field!="re"`` (Search Reference, "regex"): keeps results whose field
  matches (or does not match) the unanchored PCRE.
- ``rex field=f "(?<name>re)"`` (Search Reference, "rex"): unanchored PCRE; each named group
  that matched becomes a field; on no match the fields stay unset.
- ``eval`` and ``where`` (Search Reference, "eval", "where"; Search Manual, "Boolean
  expressions"): NOT, then AND, then OR; ``=`` compares strings case-sensitively; ``*``
  before ``+`` and ``-`` (Search Reference, "eval": arithmetic operators); functions ``if``,
  ``isnull``, ``isnotnull``, ``lower``, ``tonumber``, ``null``, ``match`` (PCRE,
  case-sensitive unless the regex says ``(?i)``), ``coalesce`` (the first non-null
  argument), ``abs`` and ``max`` of numbers (Search Reference, "Evaluation functions":
  "Comparison and Conditional functions", "Mathematical functions").
- ``sort 0 _time -f`` (Search Reference, "sort"): all results, ascending, ``-`` descending.
- ``bin _time span=S`` (Search Reference, "bin"): ``_time`` becomes the start of its bin,
  ``floor(_time / S) * S``; bins are aligned to epoch 0 UTC unless ``aligntime`` says
  otherwise.
- ``stats fn(x) as y by f g`` (Search Reference, "stats"; "Statistical and charting
  functions"): one result per distinct combination of the by-fields, holding those fields and
  the statistics; results without a by-field are dropped; output in ascending order of the
  by-fields. ``count``, ``sum``.
- ``streamstats`` (Search Reference, "streamstats"): for each result in order, statistics of
  results of its group. ``time_window=W``: the results whose ``_time`` is within ``W``
  before it, the result itself included. ``window=N``: the last ``N`` results; with a by
  clause only ``global=f`` (one window per group; the default ``global=true`` is one window
  for all groups) is accepted; ``current=f`` leaves the result itself out. ``count``,
  ``dc``, ``sum``, ``max``, ``avg``, ``stdev`` (the sample standard deviation).
- ``multisearch [ search ... ] [ search ... ]`` (Search Reference, "multisearch"): runs each
  subsearch over the events and merges the results.
- Macros (Knowledge Manager Manual, "Use search macros in searches"): `` `name` `` is replaced
  by its ``definition`` from macros.conf before the search is parsed.
- ``savedsearches.conf`` (Admin Manual, "About configuration files", "savedsearches.conf"):
  ``[stanza]`` headers, ``key = value`` settings, ``#`` comments; a value line ending in a
  backslash continues on the next line, the backslash removed and the line break kept.

Modelling choices where the documentation is silent: a double-quoted name before ``=`` or
``IN`` is a field name (as the pySigma backend writes ``"a{}"``); ``*`` also spans line breaks;
``streamstats time_window`` includes a result exactly ``W`` earlier; results with equal
``_time`` keep their order; ``stdev`` of fewer than two values, ``avg`` or ``sum`` of no
numeric value, and eval ``max`` or ``abs`` with a null or non-numeric argument are null;
Splunk's index-time term lookup, which can only narrow a search that the field comparison
then decides, is not modelled.

Only this subset is accepted: any other command or construct raises :class:`SplError`, which
the conformance test counts as a failure.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from llmsiem.compiler.compile import CompileResult
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.verdicts import Verdicts

INDEX = "llm"
SOURCETYPE = "llmsiem:telemetry"

Result = dict[str, list[str]]
Value = str | float | bool | None


class SplError(ValueError):
    """A query outside the evaluated SPL subset, or malformed."""


# -- events as Splunk extracts them ---------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _flatten(prefix: str, value: Any, fields: Result) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, item, fields)
    elif isinstance(value, list):
        for item in value:
            _flatten(prefix + "{}", item, fields)
    elif value is not None:
        fields.setdefault(prefix, []).append(_scalar(value))


def splunk_event(document: dict[str, Any]) -> Result:
    """One event as Splunk sees it after HEC ingestion with ``KV_MODE=json``."""
    fields: Result = {}
    _flatten("", document, fields)
    fields["_raw"] = [json.dumps(document, ensure_ascii=False)]
    fields["_time"] = [_number(datetime.fromisoformat(document["@timestamp"]).timestamp())]
    fields["index"] = [INDEX]
    fields["sourcetype"] = [SOURCETYPE]
    return fields


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _as_float(text: Value) -> float | None:
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, float):
        return text
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- lexing ----------------------------------------------------------------------------------


def unquote(text: str) -> str:
    """The content of a double-quoted SPL string: ``\\\\`` -> ``\\``, ``\\"`` -> ``"``."""
    out = []
    index = 1
    while index < len(text) - 1:
        char = text[index]
        if char == "\\" and index + 1 < len(text) - 1 and text[index + 1] in '\\"':
            out.append(text[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _quoted_end(text: str, start: int) -> int:
    """Index just past the double-quoted string starting at ``start``."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index + 1
        index += 1
    raise SplError(f"unterminated quoted string at {start}: {text[start : start + 40]!r}")


def _unquoted(text: str) -> Iterator[tuple[int, str]]:
    """Each character of ``text`` outside double-quoted strings, with its index."""
    index = 0
    while index < len(text):
        if text[index] == '"':
            index = _quoted_end(text, index)
            continue
        yield index, text[index]
        index += 1


def split_pipeline(query: str) -> list[str]:
    """Commands separated by ``|`` outside quotes and subsearch brackets."""
    commands: list[str] = []
    depth = start = 0
    for index, char in _unquoted(query):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "|" and depth == 0:
            commands.append(query[start:index])
            start = index + 1
    commands.append(query[start:])
    return [c.strip() for c in commands]


def expand_macros(query: str, macros: dict[str, str]) -> str:
    """Replace every `` `name` `` with its macros.conf definition."""

    def definition(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise SplError(f"undefined macro `{name}`")
        return macros[name]

    return re.sub(r"`([A-Za-z0-9_]+)`", definition, query)


# -- the search command ------------------------------------------------------------------------

_FIELD_OP = re.compile(r'("(?:[^"\\]|\\.)*"|[^\s=!<>()"]+)\s*(!=|<=|>=|=|<|>)\s*')
_IN_OP = re.compile(r'((?:"(?:[^"\\]|\\.)*"|[^\s=!<>()"]+))\s+IN\s*\(')
_BARE = re.compile(r'[^\s()"]+')
_BARE_LISTED = re.compile(r'[^\s(),"]+')  # an unquoted value in an IN list ends at a comma

Predicate = Callable[[Result], bool]


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """A search value with ``*`` wildcards as a case-insensitive whole-value matcher."""
    if "\\*" in pattern:
        raise SplError(f"a backslash cannot escape * in a Splunk search value: {pattern!r}")
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def _field_name(token: str) -> str:
    return unquote(token) if token.startswith('"') else token


def _compare(values: list[str], op: str, target: str) -> bool:
    if op in ("=", "!="):
        matcher = _glob(target)
        found = any(matcher.fullmatch(v) for v in values)
        return found if op == "=" else bool(values) and not found
    wanted = _as_float(target)
    for value in values:
        number = _as_float(value)
        if wanted is not None and number is not None:
            left, right = number, wanted
            ok = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
        else:
            a, b = value.lower(), target.lower()
            ok = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
        if ok[op]:
            return True
    return False


class _SearchParser:
    """Recursive descent over a search expression: NOT binds tightest, then OR, then AND."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _keyword(self, word: str) -> bool:
        self._skip()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (
            end == len(self.text) or self.text[end].isspace() or self.text[end] == "("
        ):
            self.pos = end
            return True
        return False

    def _at_end_of_group(self) -> bool:
        self._skip()
        return self.pos >= len(self.text) or self.text[self.pos] == ")"

    def parse(self) -> Predicate:
        predicate = self._and()
        self._skip()
        if self.pos != len(self.text):
            raise SplError(
                f"unexpected text in search at {self.pos}: {self.text[self.pos :][:40]!r}"
            )
        return predicate

    def _and(self) -> Predicate:
        parts = [self._or()]
        while not self._at_end_of_group():
            self._keyword("AND")
            parts.append(self._or())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _or(self) -> Predicate:
        parts = [self._not()]
        while self._keyword("OR"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _not(self) -> Predicate:
        if self._keyword("NOT"):
            inner = self._not()
            return lambda r: not inner(r)
        return self._primary()

    def _value(self, bare: re.Pattern[str] = _BARE) -> str:
        self._skip()
        if self.text.startswith('"', self.pos):
            end = _quoted_end(self.text, self.pos)
            value = unquote(self.text[self.pos : end])
        else:
            match = bare.match(self.text, self.pos)
            if not match:
                raise SplError(f"missing value at {self.pos} in search")
            end, value = match.end(), match.group()
        self.pos = end
        return value

    def _primary(self) -> Predicate:
        self._skip()
        if self.text.startswith("(", self.pos):
            self.pos += 1
            inner = self._and()
            self._skip()
            if not self.text.startswith(")", self.pos):
                raise SplError("unbalanced parenthesis in search")
            self.pos += 1
            return inner
        if match := _IN_OP.match(self.text, self.pos):
            field = _field_name(match.group(1))
            self.pos = match.end()
            values = []
            while True:
                self._skip()
                if self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                values.append(self._value(_BARE_LISTED))
                self._skip()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
            return lambda r: any(_compare(r.get(field, []), "=", v) for v in values)
        if match := _FIELD_OP.match(self.text, self.pos):
            field, op = _field_name(match.group(1)), match.group(2)
            self.pos = match.end()
            value = self._value()
            return lambda r: _compare(r.get(field, []), op, value)
        bare = _BARE.match(self.text, self.pos)
        if bare and bare.group() == "*":
            self.pos += 1
            return lambda r: True
        raise SplError(f"unsupported search term at {self.pos}: {self.text[self.pos :][:40]!r}")


# -- regular expressions ------------------------------------------------------------------------


@cache
def pcre(pattern: str) -> Any:
    """A PCRE2 pattern compiled as Splunk compiles it (UTF-8, no Unicode properties)."""
    try:
        import pcre2
    except ImportError as error:  # pragma: no cover - a dev dependency
        raise SplError("the pcre2 package is not installed (pip install llmsiem[dev])") from error
    try:
        return pcre2.compile(pattern, flags=pcre2.ASCII)
    except pcre2.PatternError as error:
        raise SplError(f"PCRE rejects {pattern!r}: {error}") from error


_ARGUMENT = re.compile(r'\s*([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|\S+)')
_REGEX_COMMAND = re.compile(r'([^\s!=]+)\s*(!=|=)\s*("(?:[^"\\]|\\.)*")\s*$')


def _regex_command(args: str) -> Callable[[list[Result]], list[Result]]:
    match = _REGEX_COMMAND.match(args)
    if not match:
        raise SplError(f"unsupported regex command: {args[:60]!r}")
    field, op, quoted = match.groups()
    compiled = pcre(unquote(quoted))

    def keep(result: Result) -> bool:
        found = any(compiled.search(v) for v in result.get(field, []))
        return found if op == "=" else not found

    return lambda results: [r for r in results if keep(r)]


def _rex_command(args: str) -> Callable[[list[Result]], list[Result]]:
    options: dict[str, str] = {}
    rest = args
    while match := _ARGUMENT.match(rest):
        options[match.group(1)] = match.group(2)
        rest = rest[match.end() :]
    rest = rest.strip()
    if set(options) - {"field"} or not rest.startswith('"'):
        raise SplError(f"unsupported rex command: {args[:60]!r}")
    field = options.get("field", "_raw")
    compiled = pcre(unquote(rest))
    names = list(compiled.groupindex)

    def extract(result: Result) -> Result:
        for value in result.get(field, []):
            match = compiled.search(value)
            if match:
                updated = dict(result)
                for name in names:
                    group = match.group(name)
                    if group is not None:
                        updated[name] = [group]
                return updated
        return result

    return lambda results: [extract(r) for r in results]


# -- eval expressions -----------------------------------------------------------------------------

_EVAL_TOKEN = re.compile(
    r"""\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<field>'[^']*')
    |(?P<op>==|!=|>=|<=|[=<>+\-*(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.{}]*))""",
    re.VERBOSE,
)
EvalNode = Callable[[Result], Value]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _EVAL_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SplError(f"unsupported eval expression at {pos}: {text[pos:][:40]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _field_value(result: Result, name: str) -> Value:
    values = result.get(name)
    return values[0] if values else None


def _truthy(value: Value) -> bool:
    return value is True


def _equal(left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None
    a, b = _as_float(left), _as_float(right)
    if a is not None and b is not None:
        return a == b
    return str(left) == str(right)


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
}


def _order(op: str, left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None
    a, b = _as_float(left), _as_float(right)
    if a is not None and b is not None:
        return _ORDERINGS[op](a, b)
    return _ORDERINGS[op](str(left), str(right))


def _function(name: str, args: list[EvalNode]) -> EvalNode:
    def lower(r: Result) -> Value:
        value = args[0](r)
        return None if value is None else str(value).lower()

    def tonumber(r: Result) -> Value:
        return _as_float(args[0](r))

    def match(r: Result) -> Value:
        value, pattern = args[0](r), args[1](r)
        if value is None or pattern is None:
            return None
        return bool(pcre(str(pattern)).search(str(value)))

    def numbers(r: Result) -> list[float] | None:
        values = [_as_float(arg(r)) for arg in args]
        return None if any(v is None for v in values) else [v for v in values if v is not None]

    def largest(r: Result) -> Value:
        values = numbers(r)
        return max(values) if values else None

    def absolute(r: Result) -> Value:
        values = numbers(r)
        return abs(values[0]) if values else None

    def coalesce(r: Result) -> Value:
        return next((v for v in (arg(r) for arg in args) if v is not None), None)

    variadic: dict[str, EvalNode] = {"max": largest, "coalesce": coalesce}
    if name in variadic and args:
        return variadic[name]
    functions: dict[str, tuple[int, EvalNode]] = {
        "if": (3, lambda r: args[1](r) if _truthy(args[0](r)) else args[2](r)),
        "isnull": (1, lambda r: args[0](r) is None),
        "isnotnull": (1, lambda r: args[0](r) is not None),
        "null": (0, lambda r: None),
        "lower": (1, lower),
        "tonumber": (1, tonumber),
        "match": (2, match),
        "abs": (1, absolute),
    }
    if name not in functions or functions[name][0] != len(args):
        raise SplError(f"unsupported eval function {name}() with {len(args)} arguments")
    return functions[name][1]


class _EvalParser:
    """Eval/where expressions: NOT, then AND, then OR; comparisons; + and -; *."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, value: str) -> bool:
        token = self._peek()
        if token and token[1] == value and token[0] in ("op", "word"):
            self.pos += 1
            return True
        return False

    def parse(self) -> EvalNode:
        node = self._or()
        if self._peek() is not None:
            raise SplError(f"unexpected eval token {self._peek()}")
        return node

    def _or(self) -> EvalNode:
        node = self._and()
        while self._take("OR"):
            left, right = node, self._and()
            node = self._bind_or(left, right)
        return node

    @staticmethod
    def _bind_or(left: EvalNode, right: EvalNode) -> EvalNode:
        return lambda r: _truthy(left(r)) or _truthy(right(r))

    def _and(self) -> EvalNode:
        node = self._not()
        while self._take("AND"):
            left, right = node, self._not()
            node = self._bind_and(left, right)
        return node

    @staticmethod
    def _bind_and(left: EvalNode, right: EvalNode) -> EvalNode:
        return lambda r: _truthy(left(r)) and _truthy(right(r))

    def _not(self) -> EvalNode:
        if self._take("NOT"):
            inner = self._not()
            return lambda r: not _truthy(inner(r))
        return self._comparison()

    def _comparison(self) -> EvalNode:
        left = self._sum()
        token = self._peek()
        if token and token[0] == "op" and token[1] in ("=", "==", "!=", ">", ">=", "<", "<="):
            self.pos += 1
            op, right = token[1], self._sum()
            if op in ("=", "=="):
                return lambda r: _equal(left(r), right(r)) is True
            if op == "!=":
                return lambda r: _equal(left(r), right(r)) is False
            return lambda r: _order(op, left(r), right(r)) is True
        return left

    def _sum(self) -> EvalNode:
        node = self._product()
        while (token := self._peek()) and token[0] == "op" and token[1] in "+-":
            self.pos += 1
            node = self._bind_arithmetic(token[1], node, self._product())
        return node

    def _product(self) -> EvalNode:
        node = self._primary()
        while (token := self._peek()) and token == ("op", "*"):
            self.pos += 1
            node = self._bind_arithmetic("*", node, self._primary())
        return node

    @staticmethod
    def _bind_arithmetic(op: str, left: EvalNode, right: EvalNode) -> EvalNode:
        def apply(r: Result) -> Value:
            a, b = _as_float(left(r)), _as_float(right(r))
            if a is None or b is None:
                return None
            return {"+": a + b, "-": a - b, "*": a * b}[op]

        return apply

    def _primary(self) -> EvalNode:
        token = self._peek()
        if token is None:
            raise SplError("eval expression ends early")
        self.pos += 1
        kind, text = token
        if kind == "number":
            number = float(text)
            return lambda r: number
        if kind == "string":
            literal = unquote(text)
            return lambda r: literal
        if kind == "field":
            name = text[1:-1]
            return lambda r: _field_value(r, name)
        if kind == "op" and text == "(":
            node = self._or()
            if not self._take(")"):
                raise SplError("unbalanced parenthesis in eval expression")
            return node
        if kind == "word":
            if self._take("("):
                args: list[EvalNode] = []
                while not self._take(")"):
                    args.append(self._or())
                    self._take(",")
                return _function(text, args)
            return lambda r: _field_value(r, text)
        raise SplError(f"unexpected eval token {token}")


def _as_field(value: Value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise SplError("eval cannot assign a Boolean to a field")
    return [_number(value) if isinstance(value, float) else value]


def _eval_command(args: str) -> Callable[[list[Result]], list[Result]]:
    assignments = []
    for part in _split_top_level(args, ","):
        name, equals, expression = part.partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise SplError(f"unsupported eval assignment: {part[:60]!r}")
        assignments.append((name.strip(), _EvalParser(expression).parse()))

    def apply(result: Result) -> Result:
        updated = dict(result)
        for name, node in assignments:
            value = _as_field(node(updated))
            if value is None:
                updated.pop(name, None)
            else:
                updated[name] = value
        return updated

    return lambda results: [apply(r) for r in results]


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in _unquoted(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _where_command(args: str) -> Callable[[list[Result]], list[Result]]:
    node = _EvalParser(args).parse()
    return lambda results: [r for r in results if _truthy(node(r))]


# -- sort, bin, stats and streamstats -------------------------------------------------------------

_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(span: str) -> float:
    match = re.fullmatch(r"(\d+)([smhd])", span)
    if not match:
        raise SplError(f"unsupported time span {span!r}")
    return int(match.group(1)) * _TIME_UNITS[match.group(2)]


def _time(result: Result) -> float:
    value = _as_float(_field_value(result, "_time"))
    if value is None:
        raise SplError("a result has no _time")
    return value


def _sort_command(args: str) -> Callable[[list[Result]], list[Result]]:
    """``sort 0 _time [-field ...]``: all results, ascending (``-``: descending) numbers."""
    words = args.replace(",", " ").split()
    if words[:2] != ["0", "_time"]:
        raise SplError(f"unsupported sort: {args!r}")
    keys = [(w.lstrip("-"), w.startswith("-")) for w in words[2:]]

    def key(result: Result) -> tuple[float, ...]:
        values = [_as_float(_field_value(result, name)) for name, _ in keys]
        if any(v is None for v in values):
            raise SplError(f"sort by a missing or non-numeric field: {args!r}")
        signed = [
            -v if desc else v for v, (_, desc) in zip(values, keys, strict=True) if v is not None
        ]
        return (_time(result), *signed)

    return lambda results: sorted(results, key=key)


_AGGREGATION = re.compile(
    r"\s*(count|dc|sum|max|avg|stdev)(?:\(([^)\s]+)\))?\s+as\s+([A-Za-z_][A-Za-z0-9_]*)\s*(,|$|\s)"
)
_NEEDS_FIELD = {"dc", "sum", "max", "avg", "stdev"}
Aggregation = tuple[str, str | None, str]


def _aggregations(text: str, command: str) -> list[Aggregation]:
    """``fn(field) as name`` terms, separated by commas or spaces; nothing else."""
    found: list[Aggregation] = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _AGGREGATION.match(text, pos)
        if not match:
            raise SplError(f"unsupported {command} statistic: {text[pos:][:60]!r}")
        function, field, name = match.group(1), match.group(2), match.group(3)
        if (field is None) == (function in _NEEDS_FIELD):
            raise SplError(f"unsupported {command} statistic: {match.group().strip()!r}")
        found.append((function, field, name))
        pos = match.end()
    if not found:
        raise SplError(f"{command} without statistics: {text[:60]!r}")
    return found


def _statistic(function: str, field: str | None, window: list[Result]) -> list[str] | None:
    if function == "count":
        return [str(len(window))]
    assert field is not None
    values = [v for r in window for v in r.get(field, [])]
    if function == "dc":
        return [str(len(set(values)))]
    numbers = [n for n in (_as_float(v) for v in values) if n is not None]
    if function == "stdev":
        return [_number(statistics.stdev(numbers))] if len(numbers) > 1 else None
    if not numbers:
        return None
    combine: dict[str, Callable[[list[float]], float]] = {
        "sum": math.fsum,
        "max": max,
        "avg": statistics.fmean,
    }
    return [_number(combine[function](numbers))]


def _with_statistics(result: Result, aggregations: list[Aggregation], rows: list[Result]) -> Result:
    updated = dict(result)
    for function, field, name in aggregations:
        value = _statistic(function, field, rows)
        if value is None:
            updated.pop(name, None)
        else:
            updated[name] = value
    return updated


def _by_fields(text: str | None) -> list[str]:
    return (text or "").replace(",", " ").split()


_STREAM_OPTION = re.compile(r"(time_window|window|current|global)=(\S+)\s+")
_BOOLEAN = {"t": True, "true": True, "f": False, "false": False}


def _streamstats_command(args: str) -> Callable[[list[Result]], list[Result]]:
    body, _, by_text = re.sub(r"\s+", " ", args.strip()).partition(" by ")
    options: dict[str, str] = {}
    while match := _STREAM_OPTION.match(body):
        options[match.group(1)] = match.group(2)
        body = body[match.end() :]
    aggregations = _aggregations(body, "streamstats")
    by = _by_fields(by_text)
    if any(value not in _BOOLEAN for key, value in options.items() if key in ("current", "global")):
        raise SplError(f"unsupported streamstats options: {args[:60]!r}")
    current = _BOOLEAN[options.get("current", "t")]
    if ("time_window" in options) == ("window" in options):
        raise SplError(f"streamstats needs exactly one of time_window= and window=: {args!r}")
    if "time_window" in options:
        if not current:
            raise SplError(f"unsupported streamstats time_window with current=f: {args!r}")
        seconds = _seconds(options["time_window"])

        def within(previous: list[Result], now: Result) -> list[Result]:
            return [r for r in previous if _time(now) - _time(r) <= seconds]

        choose = within
    else:
        if not options["window"].isdigit() or int(options["window"]) < 1:
            raise SplError(f"unsupported streamstats window: {args[:60]!r}")
        if by and _BOOLEAN[options.get("global", "t")]:
            raise SplError(f"streamstats window= with by needs global=f: {args[:60]!r}")
        size = int(options["window"]) - (1 if current else 0)

        def last(previous: list[Result], now: Result) -> list[Result]:
            return previous[-size:] if size else []

        choose = last

    def apply(results: list[Result]) -> list[Result]:
        previous: dict[tuple[str, ...], list[Result]] = {}
        output = []
        for result in results:
            if any(_field_value(result, f) is None for f in by):
                output.append(result)
                continue
            key = tuple(str(_field_value(result, f)) for f in by)
            kept = choose(previous.get(key, []), result)
            previous[key] = [*kept, result]
            rows = [*kept, result] if current else kept
            output.append(_with_statistics(result, aggregations, rows))
        return output

    return apply


def _bin_command(args: str) -> Callable[[list[Result]], list[Result]]:
    """``bin _time span=S`` (either order): ``_time`` floored to its bin's start."""
    words = sorted(args.split())
    if len(words) != 2 or words[0] != "_time" or not words[1].startswith("span="):
        raise SplError(f"unsupported bin: {args!r}")
    span = _seconds(words[1].removeprefix("span="))

    def floor(result: Result) -> Result:
        return {**result, "_time": [_number(math.floor(_time(result) / span) * span)]}

    return lambda results: [floor(r) for r in results]


def _stats_command(args: str) -> Callable[[list[Result]], list[Result]]:
    body, by_keyword, by_text = re.sub(r"\s+", " ", args.strip()).partition(" by ")
    by = _by_fields(by_text)
    if not by_keyword or not by:
        raise SplError(f"unsupported stats without by-fields: {args[:60]!r}")
    aggregations = _aggregations(body, "stats")

    def order(key: tuple[str, ...]) -> tuple[tuple[int, float, str], ...]:
        """Numbers before strings, each ascending."""
        numbers = [(_as_float(v), v) for v in key]
        return tuple((0, n, "") if n is not None else (1, 0.0, v) for n, v in numbers)

    def apply(results: list[Result]) -> list[Result]:
        groups: dict[tuple[str, ...], list[Result]] = {}
        for result in results:
            values = [_field_value(result, f) for f in by]
            if all(v is not None for v in values):
                groups.setdefault(tuple(str(v) for v in values), []).append(result)
        return [
            _with_statistics(dict(zip(by, ([v] for v in key), strict=True)), aggregations, rows)
            for key, rows in sorted(groups.items(), key=lambda item: order(item[0]))
        ]

    return apply


# -- pipelines ------------------------------------------------------------------------------------

Command = Callable[[list[Result]], list[Result]]


def _search_command(args: str) -> Command:
    predicate = _SearchParser(args).parse()
    return lambda results: [r for r in results if predicate(r)]


COMMANDS: dict[str, Callable[[str], Command]] = {
    "search": _search_command,
    "regex": _regex_command,
    "rex": _rex_command,
    "eval": _eval_command,
    "where": _where_command,
    "sort": _sort_command,
    "streamstats": _streamstats_command,
    "bin": _bin_command,
    "stats": _stats_command,
}


@dataclass
class Pipeline:
    """A parsed search: an optional generating multisearch, then streaming commands."""

    subsearches: list[Pipeline]
    commands: list[Command]

    def run(self, events: list[Result]) -> list[Result]:
        results = (
            [r for sub in self.subsearches for r in sub.run(events)] if self.subsearches else events
        )
        for command in self.commands:
            results = command(results)
        return results


def _command(text: str) -> Command:
    name, _, args = text.partition(" ")
    if name not in COMMANDS:
        raise SplError(f"unsupported SPL command {name!r}")
    return COMMANDS[name](args.strip())


def _subsearches(body: str) -> list[str]:
    """The bracketed subsearches of a multisearch, brackets inside quotes ignored."""
    found: list[str] = []
    depth = start = 0
    for index, char in _unquoted(body):
        if char == "[":
            depth += 1
            start = index + 1 if depth == 1 else start
        elif char == "]":
            depth -= 1
            if depth == 0:
                found.append(body[start:index].strip())
        elif depth == 0 and not char.isspace():
            raise SplError(f"unexpected text between subsearches: {body[index:][:40]!r}")
    return found


def parse_search(query: str, macros: dict[str, str] | None = None) -> Pipeline:
    """Parse one search (macros expanded) into a runnable pipeline."""
    commands = split_pipeline(expand_macros(query, macros or {}))
    subsearches: list[Pipeline] = []
    if commands[0] == "" and len(commands) > 1 and commands[1].startswith("multisearch"):
        body = commands[1][len("multisearch") :].strip()
        for subsearch in _subsearches(body):
            if not subsearch.startswith("search "):
                raise SplError(
                    f"a multisearch subsearch must start with search: {subsearch[:40]!r}"
                )
            subsearches.append(parse_search(subsearch, macros))
        if len(subsearches) < 2:
            raise SplError("multisearch needs at least two subsearches")
        commands = commands[2:]
    elif commands[0] == "":
        raise SplError("a search cannot start with a non-generating command")
    elif not commands[0].startswith("search "):
        commands[0] = "search " + commands[0]
    return Pipeline(subsearches, [_command(c) for c in commands])


# -- savedsearches.conf ---------------------------------------------------------------------------


def read_conf(text: str) -> dict[str, dict[str, str]]:
    """Stanzas of a Splunk .conf file, with backslash line continuation."""
    stanzas: dict[str, dict[str, str]] = {}
    current: dict[str, str] = stanzas.setdefault("default", {})
    key: str | None = None
    for line in text.split("\n"):
        if key is not None and current[key].endswith("\\"):
            current[key] = current[key][:-1] + "\n" + line
            continue
        key = None
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stanzas.setdefault(stripped[1:-1], {})
            continue
        name, equals, value = line.partition("=")
        if not equals:
            raise SplError(f"not a setting: {line[:60]!r}")
        key = name.strip()
        current[key] = value.strip()
    return stanzas


# -- verdicts -------------------------------------------------------------------------------------


def _event_ids(results: Iterable[Result]) -> Iterator[str]:
    for result in results:
        yield from result.get("event.id", [])


def search_verdicts(
    searches: dict[str, list[str]],
    kinds: dict[str, str],
    corpus: SampleCorpus,
    macros: dict[str, str] | None = None,
) -> Verdicts:
    """Run every rule's searches: detections over the whole corpus, correlations per case."""
    events = [splunk_event(e) for e in corpus.events]
    verdicts = Verdicts()
    for rule, queries in searches.items():
        try:
            pipelines = [parse_search(q, macros) for q in queries]
            if kinds[rule] == "detection":
                matched = {i for p in pipelines for i in _event_ids(p.run(events))}
                verdicts.detections[rule] = frozenset(matched)
                continue
            for case in (c for c in corpus.correlation_cases if c.rule == rule):
                case_events = [splunk_event(e) for e in case.events]
                fired = any(p.run(case_events) for p in pipelines)
                verdicts.correlations[rule, case.label] = fired
        except SplError as error:
            verdicts.errors[rule] = str(error)
    return verdicts


def spl_verdicts(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """Verdicts of the ``splunk-spl`` queries."""
    searches = {str(c.name): [str(q) for q in c.queries] for c in result.compiled}
    kinds = {str(c.name): c.kind for c in result.compiled}
    return search_verdicts(searches, kinds, corpus)


def app_searches(app: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """A written Splunk app's saved searches by ``action.llmsiem_rule_id``, read as Splunk
    reads savedsearches.conf, and its macros.conf definitions."""
    saved = read_conf((app / "default" / "savedsearches.conf").read_text(encoding="utf-8"))
    macros = {
        name: settings["definition"]
        for name, settings in read_conf(
            (app / "default" / "macros.conf").read_text(encoding="utf-8")
        ).items()
        if "definition" in settings
    }
    searches: dict[str, list[str]] = {}
    for settings in saved.values():
        if "action.llmsiem_rule_id" in settings:
            searches.setdefault(settings["action.llmsiem_rule_id"], []).append(settings["search"])
    return searches, macros


def app_verdicts(app: Path, result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """Verdicts of a written Splunk app: savedsearches.conf read as Splunk reads it, macros
    expanded from macros.conf; stanzas are tied to rules by ``action.llmsiem_rule_id``."""
    by_id, macros = app_searches(app)
    searches = {str(c.name): by_id[c.rule_id] for c in result.compiled if c.rule_id in by_id}
    kinds = {str(c.name): c.kind for c in result.compiled}
    missing = {str(c.name) for c in result.compiled} - set(searches)
    verdicts = search_verdicts(searches, kinds, corpus, macros)
    for rule in missing:
        verdicts.errors[rule] = "no saved search in savedsearches.conf"
    return verdicts
