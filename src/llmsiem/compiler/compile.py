"""Compile the rule pack rule by rule, so one bad rule never sinks a whole conversion.

Three pySigma pitfalls are handled here, each covered by a test:

- pipelines mutate rules (field mappings, added conditions): every conversion works on a
  freshly parsed rule, so converting twice or for two targets gives identical output;
- correlations need their base rules processed first: base rules are converted before the
  correlation that references them, whatever the order of files;
- a correlation type a backend cannot express is reported per rule and skipped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.conversion.base import Backend
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from llmsiem.baseline_spec import is_baseline
from llmsiem.compiler.baselines import anomaly_job, baseline_skip_reason, machine_learning_rule
from llmsiem.compiler.targets import ELASTIC_INDEX, TARGETS, Stage, Target
from llmsiem.resources import content_dir
from llmsiem.rulepack import AnyRule, RuleFile, RuleLoadError, RulePack, SafeLoader
from llmsiem.sigma_offline import use_bundled_mitre_data

UNSUPPORTED = (NotImplementedError, SigmaFeatureNotSupportedByBackendError)


@dataclass
class CompiledRule:
    """The output of one rule for one target."""

    rule_id: str
    name: str | None
    title: str
    level: str
    path: str
    kind: str
    queries: list[Any]
    window_seconds: int | None = None  # a correlation's timespan (Sigma ``timespan``)
    tags: list[str] = field(default_factory=list)  # Sigma tags, ``namespace.name``


@dataclass
class CompileIssue:
    """A rule that did not compile for a target: skipped (unsupported) or failed."""

    rule_id: str
    title: str
    path: str
    target: str
    backend: str
    message: str
    skipped: bool

    def __str__(self) -> str:
        verb = "skipped" if self.skipped else "failed"
        return (
            f"{self.path}: rule {self.title!r} ({self.rule_id}) {verb} for {self.target} "
            f"[backend {self.backend}]: {self.message}"
        )


@dataclass
class CompileResult:
    target: str
    compiled: list[CompiledRule] = field(default_factory=list)
    issues: list[CompileIssue] = field(default_factory=list)
    base_only: list[CompileIssue] = field(default_factory=list)  # compiled inside correlations
    anomaly_jobs: list[dict[str, Any]] = field(default_factory=list)  # Elastic ML, baselines

    @property
    def failed(self) -> list[CompileIssue]:
        return [i for i in self.issues if not i.skipped]


def load_pipeline(names: tuple[str, ...], tuning: Path | None = None) -> ProcessingPipeline:
    """Compose the named YAML pipelines from ``mappings/``, then the user's tuning file."""
    mappings = content_dir("mappings")
    pipeline = ProcessingPipeline()
    paths = [mappings / name for name in names]
    if tuning is not None:
        paths.append(tuning)
    for path in paths:
        try:
            definition = copy.deepcopy(_pipeline_definition(path, path.stat().st_mtime_ns))
            pipeline += ProcessingPipeline.from_dict(definition)
        except (SigmaError, OSError, ValueError, yaml.YAMLError) as exc:
            raise RuleLoadError(path, f"invalid processing pipeline: {exc}") from exc
    return pipeline


@cache
def _pipeline_definition(path: Path, mtime: int) -> dict[str, Any]:
    """A pipeline file's YAML, parsed once per file version."""
    data: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
    return data


def correlation_only_rule_names(parsed: list[tuple[RuleFile, AnyRule]]) -> set[str]:
    """Names of base rules that only feed ``generate: false`` correlations (Sigma spec)."""
    referenced: dict[str, bool] = {}
    for _, rule in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            for ref in rule.rules or []:
                name = ref.reference
                referenced[name] = referenced.get(name, False) or bool(rule.generate)
    return {name for name, generate in referenced.items() if not generate}


class PackCompiler:
    """Compiles every rule of a pack for one target."""

    def __init__(self, pack: RulePack, target: Target, tuning: Path | None = None) -> None:
        """Raises ``RuleLoadError`` for a pipeline (a tuning file) that cannot be read."""
        use_bundled_mitre_data()
        load_pipeline(target.pipelines, tuning)  # once, naming a bad file, not once per rule
        self.pack = pack
        self.target = target
        self.pipeline_names = target.pipelines
        self.tuning = tuning
        self.by_name: dict[str, RuleFile] = {}
        self.by_id: dict[str, RuleFile] = {}
        self.parsed = pack.parse_all()
        for file, rule in self.parsed:
            if rule.name:
                self.by_name[rule.name] = file
            self.by_id[str(rule.id)] = file
        self.base_only = correlation_only_rule_names(self.parsed)

    def _backend(self, stage: Stage) -> Backend:
        backend = stage.factory(load_pipeline(self.pipeline_names, self.tuning))
        backend.init_processing_pipeline(stage.output_format)
        return backend

    def _base_file(self, reference: str) -> RuleFile:
        file = self.by_name.get(reference) or self.by_id.get(reference)
        if file is None:
            raise SigmaError(f"correlation references unknown rule {reference!r}")
        return file

    def _convert_detection(self, file: RuleFile) -> list[Any]:
        rule = file.parse()
        assert isinstance(rule, SigmaRule)
        backend = self._backend(self.target.detection)
        return list(backend.convert_rule(rule, self.target.detection.output_format))

    def _convert_correlation(self, file: RuleFile, stage: Stage) -> list[Any]:
        correlation = file.parse()
        assert isinstance(correlation, SigmaCorrelationRule)
        bases = [self._base_file(ref.reference).parse() for ref in correlation.rules or []]
        correlation.generate = False
        collection = SigmaCollection([*bases, correlation])
        collection.resolve_rule_references()
        backend = self._backend(stage)
        for base in bases:
            assert isinstance(base, SigmaRule)
            backend.convert_rule(base, stage.output_format)
        return list(backend.convert_correlation_rule(correlation, stage.output_format))

    def _anomaly_job(self, rule: SigmaCorrelationRule) -> dict[str, Any]:
        """The Elastic ML job of a baseline rule; its datafeed selects the base rules'
        events with their Lucene queries (OR-ed)."""
        stage = Stage(self.target.detection.factory)
        queries: list[str] = []
        for ref in rule.rules or []:
            base = self._base_file(ref.reference).parse()
            assert isinstance(base, SigmaRule)
            queries += map(str, self._backend(stage).convert_rule(base, stage.output_format))
        return anomaly_job(rule, " OR ".join(f"({q})" for q in queries), ELASTIC_INDEX)

    def compile(self) -> CompileResult:
        result = CompileResult(self.target.name)
        for file, rule in self.parsed:
            is_correlation = isinstance(rule, SigmaCorrelationRule)
            if not is_correlation and rule.name in self.base_only:
                result.base_only.append(
                    CompileIssue(
                        str(rule.id),
                        rule.title,
                        str(file.path.relative_to(self.pack.root)),
                        self.target.name,
                        "none",
                        "base rule of a generate: false correlation, compiled only inside it",
                        skipped=True,
                    )
                )
                continue
            stages = self.target.correlation if is_correlation else (self.target.detection,)
            self._compile_rule(result, file, rule, stages)
        return result

    def _compile_rule(
        self, result: CompileResult, file: RuleFile, rule: AnyRule, stages: tuple[Stage, ...]
    ) -> None:
        is_correlation = isinstance(rule, SigmaCorrelationRule)
        path = str(file.path.relative_to(self.pack.root))
        issue_args = (str(rule.id), rule.title, path, self.target.name)
        if (reason := baseline_skip_reason(rule, self.target)) is not None:
            result.issues.append(CompileIssue(*issue_args, "none", reason, skipped=True))
            return
        if (
            self.target.anomaly_jobs
            and isinstance(rule, SigmaCorrelationRule)
            and is_baseline(rule)
        ):
            job = self._anomaly_job(rule)
            result.anomaly_jobs.append(job)
            ml_rule = machine_learning_rule(rule, job["job_id"])
            result.compiled.append(_compiled(rule, path, [ml_rule]))
            return
        if not stages:
            result.issues.append(
                CompileIssue(*issue_args, "none", "target has no correlation backend", skipped=True)
            )
            return
        reasons: list[str] = []
        for stage in stages:
            backend_name = _backend_name(stage)
            try:
                if is_correlation:
                    queries = self._convert_correlation(file, stage)
                else:
                    queries = self._convert_detection(file)
            except UNSUPPORTED as exc:
                reasons.append(f"{backend_name}: {exc}" if len(stages) > 1 else str(exc))
                continue
            except (SigmaError, RuleLoadError, ValueError, KeyError, TypeError) as exc:
                result.issues.append(CompileIssue(*issue_args, backend_name, str(exc), False))
                return
            result.compiled.append(_compiled(rule, path, queries))
            return
        result.issues.append(
            CompileIssue(
                *issue_args, "/".join(map(_backend_name, stages)), "; ".join(reasons), True
            )
        )


def _compiled(rule: AnyRule, path: str, queries: list[Any]) -> CompiledRule:
    correlation = isinstance(rule, SigmaCorrelationRule)
    return CompiledRule(
        str(rule.id),
        rule.name,
        rule.title,
        rule.level.name.lower() if rule.level else "medium",
        path,
        "correlation" if correlation else "detection",
        queries,
        rule.timespan.seconds if isinstance(rule, SigmaCorrelationRule) else None,
        [f"{tag.namespace}.{tag.name}" for tag in rule.tags],
    )


def _backend_name(stage: Stage) -> str:
    return f"{stage.factory.__name__.strip('_')}:{stage.output_format}"


def compile_pack(
    target: str, rules: Path | None = None, tuning: Path | None = None
) -> CompileResult:
    """Compile a rule pack (default: the bundled one) for one registered target."""
    return PackCompiler(RulePack.load(rules), TARGETS.get(target), tuning).compile()
