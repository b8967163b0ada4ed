"""The rule pack compiled for the embedded engine: SQL per detection, specs per correlation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from llmsiem.baseline_spec import Baseline, baseline_of
from llmsiem.columns import column_ref, field_types
from llmsiem.compiler.compile import correlation_only_rule_names, load_pipeline
from llmsiem.engine.evidence import Matcher, rule_matchers
from llmsiem.engine.sql_backend import DuckDBSigmaBackend, rule_expression
from llmsiem.rulepack import AnyRule, RuleLoadError, RulePack
from llmsiem.sigma_offline import use_bundled_mitre_data

ENGINE_PIPELINES = ("tuning.yml",)


@dataclass(frozen=True)
class RuleMeta:
    """What an alert says about the rule that raised it."""

    id: str
    name: str
    title: str
    level: str
    description: str
    tags: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class DetectionRule:
    meta: RuleMeta
    sql: str
    standalone: bool
    matchers: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class Condition:
    """A correlation threshold: operator and value (``gte: 5``), over ``field`` if any."""

    op: str
    value: float
    field: str | None = None

    def sql(self, metric: str) -> str:
        operator = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}
        return f"{metric} {operator[self.op]} {self.value}"


@dataclass(frozen=True)
class CorrelationRule:
    meta: RuleMeta
    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: float
    condition: Condition | None
    baseline: Baseline | None = None
    """Per-entity baseline (``llmsiem_baseline``): ``timespan`` is then a fixed bucket."""


@dataclass(frozen=True)
class EngineIssue:
    """A rule the engine could not compile; it is reported and skipped."""

    rule_id: str
    title: str
    path: str
    message: str

    def __str__(self) -> str:
        rule = f"rule {self.title!r} ({self.rule_id})"
        return f"{self.path}: {rule} skipped by the engine: {self.message}"


@dataclass
class EngineRules:
    detections: list[DetectionRule] = field(default_factory=list)
    correlations: list[CorrelationRule] = field(default_factory=list)
    issues: list[EngineIssue] = field(default_factory=list)

    @property
    def max_timespan(self) -> float:
        return max((c.timespan for c in self.correlations), default=0.0)

    def fields(self) -> set[str]:
        """Every schema field a detection reads, a matcher cites or a correlation groups
        by or measures: the columns a columnar input needs to provide."""
        named = {m.field for rule in self.detections for m in rule.matchers}
        for correlation in self.correlations:
            named |= set(correlation.group_by)
            if correlation.condition is not None and correlation.condition.field:
                named.add(correlation.condition.field)
        sql = " ".join(rule.sql for rule in self.detections)
        named |= {name for name in field_types() if column_ref(name) in sql}
        return named & set(field_types())


def _meta(rule: AnyRule, path: str) -> RuleMeta:
    return RuleMeta(
        id=str(rule.id),
        name=rule.name or str(rule.id),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else "medium",
        description=(rule.description or "").strip(),
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        path=path,
    )


def _correlation(rule: SigmaCorrelationRule, meta: RuleMeta) -> CorrelationRule:
    seconds = float(rule.timespan.seconds)
    condition = None
    if rule.condition is not None and getattr(rule.condition, "op", None) is not None:
        op = rule.condition.op.name.lower()  # type: ignore[union-attr]
        fieldref = getattr(rule.condition, "fieldref", None)
        condition = Condition(op, float(rule.condition.count), fieldref)  # type: ignore[union-attr]
    return CorrelationRule(
        meta=meta,
        type=rule.type.name.lower(),
        rules=tuple(ref.reference for ref in rule.rules or []),
        group_by=tuple(rule.group_by or []),
        timespan=seconds,
        condition=condition,
        baseline=baseline_of(rule),
    )


def compile_for_engine(pack: RulePack, tuning: Path | None = None) -> EngineRules:
    """Compile every rule of the pack for the engine; failures are reported per rule.
    Raises ``RuleLoadError`` for a tuning file that cannot be read."""
    use_bundled_mitre_data()
    load_pipeline(ENGINE_PIPELINES, tuning)  # once, naming a bad file, not once per rule
    result = EngineRules()
    parsed = pack.parse_all()
    base_only = correlation_only_rule_names(parsed)
    known: set[str] = set()
    for file, rule in parsed:
        path = str(file.path.relative_to(pack.root))
        meta = _meta(rule, path)
        try:
            if isinstance(rule, SigmaRule):
                backend = DuckDBSigmaBackend(load_pipeline(ENGINE_PIPELINES, tuning))
                sql = rule_expression(backend, rule)  # processes the rule in place
                standalone = rule.name not in base_only
                result.detections.append(DetectionRule(meta, sql, standalone, rule_matchers(rule)))
                known |= {meta.name, meta.id}
            else:
                result.correlations.append(_correlation(rule, meta))
        except (SigmaError, NotImplementedError, KeyError, ValueError, RuleLoadError) as exc:
            result.issues.append(EngineIssue(meta.id, meta.title, path, str(exc)))
    for correlation in list(result.correlations):
        missing = [r for r in correlation.rules if r not in known]
        if missing or correlation.type not in SUPPORTED_CORRELATIONS:
            result.correlations.remove(correlation)
            reason = (
                f"references rules that did not compile: {', '.join(missing)}"
                if missing
                else f"correlation type {correlation.type} is not supported"
            )
            meta = correlation.meta
            result.issues.append(EngineIssue(meta.id, meta.title, meta.path, reason))
    return result


SUPPORTED_CORRELATIONS = {
    "event_count",
    "value_count",
    "value_sum",
    "value_avg",
    "temporal",
    "temporal_ordered",
}
