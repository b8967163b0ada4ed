"""Every rule regex stays fast on adversarial input in each engine that runs it.

A backtracking engine can take quadratic or exponential time on a pattern with nested or
adjacent unbounded repeats. The regexes of the pack run in three engines: Python ``re`` (the
conformance reference and ``llmsiem test``), DuckDB's RE2 (the embedded engine, linear by
construction) and PCRE2 (what Splunk's ``regex`` command and ``match()`` use; the Splunk
backend ships the rule regex with inline flags, so its backtracking behaviour is the rule's).
Each regex is searched in 100 KB inputs built from its own alphabet: one character repeated,
the alphabet cycled, random text over the alphabet, a hex dump and digits. Time is CPU time of
this process (``time.process_time``), so a busy machine does not make the test flaky.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from llmsiem.compiler.regex_portability import inline_flags, rule_regexes
from llmsiem.rulepack import RulePack

BUDGET_SECONDS = 0.05
SIZE = 100_000
EXTRA_ALPHABET = "aA0 =/+.-\n:\\%"


def _rule_regexes() -> list[tuple[str, str, str]]:
    """(id, pattern, inline flags) of every ``re`` value in the pack."""
    found = []
    for _, rule in RulePack.load().parse_all():
        for value in rule_regexes(rule):
            found.append((f"{rule.name}-{len(found)}", str(value.regexp), inline_flags(value)))
    return found


REGEXES = _rule_regexes()


def _alphabet(pattern: str) -> list[str]:
    """Characters the pattern names: literals, class ends and middles, category samples."""
    import re._constants as const  # type: ignore[import-not-found]
    import re._parser as parser  # type: ignore[import-not-found]

    chars = set(EXTRA_ALPHABET)

    def walk(tree: Any) -> None:
        for op, arg in tree:
            if op is const.LITERAL:
                chars.add(chr(arg))
            elif op is const.IN:
                for sub_op, sub_arg in arg:
                    if sub_op is const.LITERAL:
                        chars.add(chr(sub_arg))
                    elif sub_op is const.RANGE:
                        low, high = sub_arg
                        chars.update({chr(low), chr(high), chr((low + high) // 2)})
            elif op in (const.MAX_REPEAT, const.MIN_REPEAT):
                walk(arg[2])
            elif op is const.SUBPATTERN:
                walk(arg[-1])
            elif op is const.BRANCH:
                for branch in arg[1]:
                    walk(branch)

    walk(parser.parse(pattern))
    return sorted(chars)


def _inputs(pattern: str) -> list[str]:
    alphabet = _alphabet(pattern)
    rng = random.Random(17)
    inputs = [char * SIZE for char in alphabet]
    inputs.append(("".join(alphabet) * (SIZE // len(alphabet) + 1))[:SIZE])
    inputs.append("".join(rng.choice(alphabet) for _ in range(SIZE)))
    inputs.append(" ".join(f"{rng.randrange(256):02x}" for _ in range(SIZE // 3)))
    inputs.append("".join(rng.choice("0123456789") for _ in range(SIZE)))
    return inputs


def _python(pattern: str, flags: str) -> Callable[[str], object]:
    compiled = re.compile(f"(?{flags}){pattern}" if flags else pattern)
    return compiled.search


def _pcre2(pattern: str, flags: str) -> Callable[[str], object]:
    import pcre2

    compiled = pcre2.compile(f"(?{flags}){pattern}" if flags else pattern)
    return compiled.search


def _duckdb_re2(pattern: str, flags: str) -> Callable[[str], object]:
    connection = duckdb.connect()
    regex = f"(?{flags}){pattern}" if flags else pattern

    def search(text: str) -> object:
        return connection.execute("SELECT regexp_matches(?, ?)", [text, regex]).fetchone()

    return search


ENGINES = {"python-re": _python, "pcre2": _pcre2, "duckdb-re2": _duckdb_re2}


def _timed(search: Callable[[str], object], text: str) -> float:
    """CPU time of one search, less that of a search in an empty string (DuckDB compiles a
    parameter regex per query: that fixed cost is not the search's)."""
    times = []
    for sample in ("", text):
        started = time.process_time()
        search(sample)
        times.append(time.process_time() - started)
    return max(0.0, times[1] - times[0])


def _worst(search: Callable[[str], object], inputs: list[str]) -> tuple[float, str]:
    """The slowest search over the inputs. Each input is first tried at a tenth of its size
    with a tenth of the budget, so a quadratic pattern fails in seconds, not minutes."""
    worst, sample = 0.0, ""
    for text in inputs:
        tenth = _timed(search, text[: len(text) // 10])
        elapsed = tenth * 10 if tenth > BUDGET_SECONDS / 10 else _timed(search, text)
        if elapsed > worst:
            worst, sample = elapsed, text[:12]
    return worst, sample


def test_the_pack_has_regexes_to_check() -> None:
    assert len(REGEXES) >= 10


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize(("rule", "pattern", "flags"), REGEXES, ids=[r[0] for r in REGEXES])
def test_rule_regex_is_fast_on_adversarial_input(
    rule: str, pattern: str, flags: str, engine: str
) -> None:
    search = ENGINES[engine](pattern, flags)
    worst, sample = _worst(search, _inputs(pattern))
    assert worst <= BUDGET_SECONDS, (
        f"{rule}: {pattern!r} took {worst * 1000:.0f} ms (or more) in {engine} "
        f"on 100 KB of {sample!r}..."
    )


def test_budget_catches_a_quadratic_pattern() -> None:
    """The old base64 selection of encoded_obfuscated_payload is quadratic when backtracking."""
    old = r"[A-Za-z0-9+/]{16,}={1,2}|[A-Za-z0-9+]{20,}[G-Zg-z+][A-Za-z0-9+]{19,}"
    text = "7" * 20_000  # a fifth of the budget's input size keeps this test short
    worst, _ = _worst(_pcre2(old, ""), [text])
    assert worst > BUDGET_SECONDS
