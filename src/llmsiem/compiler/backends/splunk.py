"""Splunk SPL backends (ad-hoc searches and savedsearches.conf).

pySigma-backend-splunk 2.1 gets five things wrong for this pack, fixed here by subclassing:

- a leading ``field="value"`` term is moved in front of OR-ed regex commands even when it
  is one side of an OR, and a quoted value is cut at its first escaped quote;
- a regular expression is copied verbatim, so a newline in it ends up raw inside the search
  (savedsearches.conf then splits the regex across continuation lines) and ``$`` keeps PCRE's
  meaning "end, or before a final newline" where Sigma (RE2) means "end";
- ``temporal_ordered`` and ``value_sum`` correlations are not supported;
- correlations count per ``bin _time`` bucket instead of sliding a window, so a burst that
  straddles a bucket boundary is missed, and group-by values are compared case-sensitively;
- a per-entity baseline (``llmsiem_baseline``, docs/baselines.md) would compile to its floor
  alone, a fixed threshold.

Correlations therefore use ``streamstats time_window=<timespan>`` over time-sorted events:
every event closes a window ending at it, as in the embedded engine. A window holds at most
``max_stream_window`` events (limits.conf, 10,000 by default), so a larger burst in one
group is counted over its latest 10,000 events.

A baseline rule keeps fixed buckets: ``bin _time`` and ``stats`` give each entity's value per
active bucket, ``streamstats current=f window=N global=f`` the count, mean and sample
deviation of its previous N active buckets, and ``where`` the floor and the threshold.

Splunk AppInspect fails an app whose files contain ``rm -rf``; a value that spells it is
matched by an equivalent case-insensitive regex with the flag written as ``[r]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from re import Pattern
from typing import Any, ClassVar

from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from llmsiem.baseline_spec import Baseline, baseline_of

_FLAG_LETTERS = (
    (SigmaRegularExpressionFlag.IGNORECASE, "i"),
    (SigmaRegularExpressionFlag.MULTILINE, "m"),
    (SigmaRegularExpressionFlag.DOTALL, "s"),
)
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PCRE_SPECIAL = set("\\^$.|?*+()[]{}")
# Splunk AppInspect's check_destructive_commands fails an app whose files contain "rm -rf"
# (and warns on other rm -r/-f spellings), search strings included.
PROHIBITED = re.compile(r"(rm\s+-)([rf])", re.IGNORECASE)
# Correlation types compiled to sliding windows with streamstats.
SLIDING_METRICS = {"event_count", "value_count", "value_sum"}
SCHEDULE_SECONDS = 300
# Commands that may lead a search: they generate results instead of filtering them.
GENERATING = ("| multisearch",)


def pcre_for_sigma(regex: str, multiline: bool) -> str:
    """A Sigma (RE2-semantics) regex as PCRE with the same meaning, on one line.

    Raw control characters become escapes; outside multi-line mode an unescaped ``$`` outside
    a character class becomes ``\\z`` (PCRE's ``$`` also matches before a final newline).
    """
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex):
            escaped = regex[index + 1]
            out.append(_CONTROL_ESCAPES.get(escaped, char + escaped))
            index += 2
            continue
        if char in _CONTROL_ESCAPES:
            out.append(_CONTROL_ESCAPES[char])
        elif in_class and regex.startswith("[:", index) and ":]" in regex[index:]:
            end = regex.index(":]", index) + 2
            out.append(regex[index:end])
            index = end
            continue
        elif in_class:
            out.append(char)
            in_class = char != "]"
        elif char == "[":
            out.append(char)
            in_class = True
            # a ``]`` right after ``[`` or ``[^`` is a literal member of the class
            for literal in ("^", "]"):
                if regex.startswith(literal, index + 1):
                    out.append(literal)
                    index += 1
        elif char == "$" and not multiline and "(?m" not in regex:
            out.append("\\z")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def prohibited_command_regex(value: SigmaString) -> str | None:
    """A case-insensitive regex for a value that spells a command Splunk AppInspect prohibits
    in an app (``rm -rf``), with the flag written as a character class; None otherwise."""
    plain = value.to_plain()
    if not PROHIBITED.search(plain):
        return None
    parts = list(value.s)
    start = "" if parts and parts[0] == SpecialChars.WILDCARD_MULTI else "^"
    end = "" if parts and parts[-1] == SpecialChars.WILDCARD_MULTI else "$"
    body = "".join(
        "".join("\\" + c if c in _PCRE_SPECIAL else c for c in part)
        if isinstance(part, str)
        else (".*" if part == SpecialChars.WILDCARD_MULTI else ".")
        for part in parts[(0 if start else 1) : (None if end else -1)]
    )
    spelled = PROHIBITED.sub(lambda m: f"{m.group(1)}[{m.group(2)}]", body)
    return f"(?is){start}{spelled}{end}"


class SigmaSplunkBackend(SplunkBackend):
    """Splunk SPL with Sigma's matching semantics and sliding-window correlations."""

    # Leading field=value terms moved before OR-ed regex commands: a quoted value may hold
    # escaped quotes (the stock pattern stops at the first ``\"`` and splits the value), and
    # a term followed by OR belongs to that OR (the stock pattern moves it out of it).
    _field_eq_val_re: ClassVar[Pattern[str]] = re.compile(
        r'([\w.]+)(?:="(?:[^"\\]|\\.)*"|=[^\s")]+)(?!\s+OR\s)\s*'
    )

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        values = [getattr(arg, "value", None) for arg in cond.args]
        if any(isinstance(v, SigmaString) and prohibited_command_regex(v) for v in values):
            return False
        return bool(super().decide_convert_condition_as_in_expression(cond, state))

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        regex = prohibited_command_regex(cond.value)
        if regex is None:
            return super().convert_condition_field_eq_val_str(cond, state)
        cond.value = SigmaRegularExpression(regex)
        return self.convert_condition_field_eq_val_re(cond, state)

    correlation_methods: ClassVar[dict[str, str]] = {
        "stats": "Sliding windows with streamstats over time-sorted events",
    }

    def convert_value_re(self, r: SigmaRegularExpression, state: ConversionState) -> str:
        multiline = SigmaRegularExpressionFlag.MULTILINE in r.flags
        flags = "".join(letter for flag, letter in _FLAG_LETTERS if flag in r.flags)
        pattern = (f"(?{flags})" if flags else "") + pcre_for_sigma(r.to_plain(), multiline)
        return pattern.replace("\\", "\\\\").replace('"', '\\"')

    def convert_correlation_rule_from_template(
        self, rule: SigmaCorrelationRule, correlation_type: Any, method: str
    ) -> list[str]:
        baseline = baseline_of(rule)
        if baseline is not None:
            search = self.convert_correlation_search(rule)
            steps = self._baseline_steps(rule, correlation_type, baseline)
            return ["\n".join([search, *self._grouping(rule), *steps])]
        if correlation_type in SLIDING_METRICS:
            steps = self._window_metric(rule, correlation_type)
        elif correlation_type == "temporal_ordered":
            steps = self._ordered_steps(rule)
        elif correlation_type == "temporal":
            steps = self._unordered_steps(rule)
        else:
            return list(
                super().convert_correlation_rule_from_template(rule, correlation_type, method)
            )
        search = self.convert_correlation_search(rule)
        order = self._ordering(rule) if correlation_type == "temporal_ordered" else []
        sort = "| sort 0 _time -llmsiem_step" if order else "| sort 0 _time"
        return ["\n".join([search, *self._grouping(rule), *order, sort, *steps])]

    def _ordering(self, rule: SigmaCorrelationRule) -> list[str]:
        """Step numbers, so that an event matching several steps (one copy per subsearch)
        comes later steps first: it cannot be its own predecessor, as in the engine."""
        step = "null()"
        for k, name in enumerate(self._rule_names(rule)):
            step = f'if(event_type="{name}", {k}, {step})'
        return [f"| eval llmsiem_step={step}"]

    @staticmethod
    def _group_names(rule: SigmaCorrelationRule) -> list[str]:
        return [f"llmsiem_group{n}" for n in range(len(rule.group_by or []))]

    def _grouping(self, rule: SigmaCorrelationRule) -> list[str]:
        """Lower-cased copies of the group-by fields (Sigma compares values case-insensitively);
        events without a group-by value belong to no group."""
        names = self._group_names(rule)
        if not names:
            return []
        copies = ", ".join(
            f"{name}=lower('{field}')"
            for name, field in zip(names, rule.group_by or [], strict=True)
        )
        present = " AND ".join(f"isnotnull({name})" for name in names)
        return [f"| eval {copies}", f"| where {present}"]

    def _by(self, rule: SigmaCorrelationRule) -> str:
        names = self._group_names(rule)
        return f" by {' '.join(names)}" if names else ""

    def _window_metric(self, rule: SigmaCorrelationRule, correlation_type: str) -> list[str]:
        condition = rule.condition
        assert isinstance(condition, SigmaCorrelationCondition)
        window = f"streamstats time_window={self.convert_timespan(rule.timespan)}"
        value = condition.fieldref if isinstance(condition.fieldref, str) else None
        steps = []
        if correlation_type == "event_count":
            metric = "count"
        elif correlation_type == "value_count":
            steps.append(f"| eval llmsiem_value=lower('{value}')")
            metric = "dc(llmsiem_value)"
        else:
            steps.append(f"| eval llmsiem_value=tonumber('{value}')")
            metric = "sum(llmsiem_value)"
        op = self.correlation_condition_mapping[condition.op]
        steps += [
            f"| {window} {metric} as {correlation_type}{self._by(rule)}",
            f"| where {correlation_type} {op} {condition.count}",
        ]
        return steps

    def _baseline_steps(
        self, rule: SigmaCorrelationRule, correlation_type: str, baseline: Baseline
    ) -> list[str]:
        """Each entity's value per fixed bucket in which it is active (events without a
        value add 0 to a sum), then the statistics of its previous ``history_buckets``
        active buckets: a bucket fires at the floor and above mean + k x max(stdev,
        ratio x |mean|), once ``min_history`` buckets precede it."""
        condition = rule.condition
        assert isinstance(condition, SigmaCorrelationCondition)
        steps = []
        if correlation_type == "value_sum":
            steps.append(f"| eval llmsiem_amount=coalesce(tonumber('{condition.fieldref}'), 0)")
            metric = "sum(llmsiem_amount)"
        else:
            metric = "count"
        names = " ".join(self._group_names(rule))
        op = self.correlation_condition_mapping[condition.op]
        k, ratio = _literal(baseline.deviations), _literal(baseline.min_spread_ratio)
        steps += [
            f"| bin _time span={self.convert_timespan(rule.timespan)}",
            f"| stats {metric} as llmsiem_value by _time {names}",
            "| sort 0 _time",
            f"| streamstats current=f window={baseline.history_buckets} global=f "
            "count as llmsiem_history, avg(llmsiem_value) as llmsiem_mean, "
            f"stdev(llmsiem_value) as llmsiem_stdev{self._by(rule)}",
            f"| where llmsiem_history >= {baseline.min_history} "
            f"AND llmsiem_value {op} {condition.count} "
            f"AND llmsiem_value > llmsiem_mean + {k} * max(llmsiem_stdev, "
            f"{ratio} * abs(llmsiem_mean))",
        ]
        return steps

    @staticmethod
    def _rule_names(rule: SigmaCorrelationRule) -> list[str]:
        return [str(ref.rule.name or ref.rule.id) for ref in rule.referenced_rules]

    def _unordered_steps(self, rule: SigmaCorrelationRule) -> list[str]:
        """Fires at an event when every referenced rule matched within the timespan before
        it, in any order."""
        seconds = rule.timespan.seconds
        names = self._rule_names(rule)
        seen = ", ".join(
            f'llmsiem_seen{k}=if(event_type="{name}", _time, null())'
            for k, name in enumerate(names)
        )
        latest = " ".join(f"max(llmsiem_seen{k}) as llmsiem_latest{k}" for k in range(len(names)))
        recent = " AND ".join(f"llmsiem_latest{k}>=_time-{seconds}" for k in range(len(names)))
        return [
            f"| eval {seen}",
            f"| streamstats time_window={seconds + 1}s {latest}{self._by(rule)}",
            f"| where {recent}",
        ]

    def _ordered_steps(self, rule: SigmaCorrelationRule) -> list[str]:
        """Step k fires when the latest start of a partial sequence up to step k-1, seen in
        the group, is within the timespan; the last step firing is the alert."""
        seconds = rule.timespan.seconds
        # one second wider than the timespan, so the explicit bound decides the edge
        window = f"streamstats time_window={seconds + 1}s"
        names = self._rule_names(rule)
        steps = [f'| eval llmsiem_start0=if(event_type="{names[0]}", _time, null())']
        for k, name in enumerate(names[1:], start=1):
            steps += [
                f"| {window} max(llmsiem_start{k - 1}) as llmsiem_latest{k - 1}{self._by(rule)}",
                f'| eval llmsiem_start{k}=if(event_type="{name}" AND '
                f"llmsiem_latest{k - 1}>=_time-{seconds}, llmsiem_latest{k - 1}, null())",
            ]
        steps.append(f"| where isnotnull(llmsiem_start{len(names) - 1})")
        return steps


def _literal(number: float) -> str:
    """A number as an SPL literal: no exponent, no trailing ``.0``."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def baseline_throttle(rule: SigmaCorrelationRule) -> dict[str, str]:
    """Saved-search settings that report each firing bucket of a baseline rule once: every
    run looks back over the whole history, so the same (entity, bucket) result comes back
    in several runs; per-result alerts (``alert.digest_mode = 0``) suppressed on those two
    fields for as long as a result stays in the time range (savedsearches.conf spec)."""
    names = SigmaSplunkBackend._group_names(rule)
    return {
        "alert.digest_mode": "0",
        "alert.suppress": "1",
        "alert.suppress.fields": ",".join([*names, "_time"]),
        "alert.suppress.period": correlation_lookback(rule).removeprefix("-"),
    }


def correlation_lookback(rule: SigmaCorrelationRule) -> str:
    """How far back a scheduled correlation search looks: a whole window plus one schedule
    interval, so every window ending since the previous run is seen whole. A baseline rule
    looks back over ``history_buckets`` + 1 buckets (the history and the bucket judged), plus
    one schedule interval, plus one bucket that the start of the time range may cut short."""
    seconds = int(rule.timespan.seconds)
    baseline = baseline_of(rule)
    if baseline is not None:
        return f"-{(baseline.history_buckets + 2) * seconds + SCHEDULE_SECONDS}s"
    return f"-{seconds + SCHEDULE_SECONDS}s"


class SavedSearchSplunkBackend(SigmaSplunkBackend):
    """Splunk backend whose savedsearches.conf searches are runnable and tunable.

    pySigma-backend-splunk 2.1 moves OR-ed regular expressions into leading
    ``| rex ... | eval`` commands; its ``savedsearches`` format then starts the search with
    a pipe, which Splunk refuses for a saved search unless the command generates results
    (``| multisearch``). This subclass applies the same reordering the ``default`` format
    uses (base search terms first), starts with ``search`` when nothing else can lead, ends
    every search with the rule's filter macro, the tuning hook that survives app upgrades
    (``local/macros.conf``), and makes a correlation's search look back over a whole window
    plus one schedule interval (a baseline's: its history, each firing bucket alerted once).
    """

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        query_settings: Callable[[SigmaRule], dict[str, str]] = lambda _: {},
        **kwargs: Any,
    ) -> None:
        def settings(rule: SigmaRule) -> dict[str, str]:
            values = dict(query_settings(rule))
            if isinstance(rule, SigmaCorrelationRule):
                values["dispatch.earliest_time"] = correlation_lookback(rule)
                if baseline_of(rule) is not None:
                    values.update(baseline_throttle(rule))
            return values

        super().__init__(processing_pipeline, query_settings=settings, **kwargs)

    def finalize_query_savedsearches(
        self,
        rule: Any,
        query: str,
        index: int,
        state: ConversionState,
    ) -> str:
        ordered = self.finalize_query_default(rule, query, index, state).strip()
        if ordered.startswith("|") and not ordered.startswith(GENERATING):
            ordered = "search *\n" + ordered
        ordered += f"\n| `{filter_macro_name(rule.name or str(rule.id))}`"
        return str(super().finalize_query_savedsearches(rule, ordered, index, state))


def filter_macro_name(rule_name: str) -> str:
    """Name of the per-rule Splunk filter macro (``llmsiem_filter_<rule name>``)."""
    return "llmsiem_filter_" + re.sub(r"[^a-z0-9_]", "_", rule_name.lower())
