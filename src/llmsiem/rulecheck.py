"""``llmsiem validate``: pySigma validators plus the pack's own metadata checks.

pySigma's core validators run offline (MITRE data from the bundled subset). One documented
exception: its ``NamespaceTagValidator`` only knows the SigmaHQ namespaces, so it is
replaced by ``LlmsiemNamespaceTagValidator``, which also admits ``atlas`` (MITRE ATLAS) and
``owasp`` (OWASP LLM Top 10 2025), and two validators check those tags against the bundled
catalogues.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule, SigmaRuleTag
from sigma.validation import SigmaValidator
from sigma.validators.base import SigmaValidationIssue, SigmaValidationIssueSeverity
from sigma.validators.core import validators as core_validators
from sigma.validators.core.tags import ATTACKTagValidator, NamespaceTagValidator

from llmsiem.baseline_spec import BaselineError, baseline_of
from llmsiem.compiler import regex_portability
from llmsiem.compiler.kibana import atlas_catalogue
from llmsiem.levels import KIBANA_SEVERITY, RISK_SCORE, SPLUNK_SEVERITY
from llmsiem.resources import content_dir
from llmsiem.rule_samples import SampleError, load_samples_file, samples_file
from llmsiem.rulepack import AnyRule, RuleFile, RuleLoadError, RulePack
from llmsiem.schema_export import leaf_fields
from llmsiem.sigma_offline import attack_technique_count, use_bundled_mitre_data

REQUIRED_STATUS = {"stable", "test", "experimental"}
TITLE_SMALL_WORDS = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "by",
    "for",
    "from",
    "in",
    "of",
    "on",
    "or",
    "to",
}
# OWASP LLM Top 10 2025 categories that are attacks on the model or its inputs (prompt
# injection, data/model poisoning, system prompt leakage, vector/embedding weaknesses).
ML_ATTACK_OWASP = {"llm01", "llm04", "llm07", "llm08"}
WARNING_CHECKS = {"attack-data"}  # findings that are reported but do not fail validation
EXCLUDED_CORE = {
    "attacktag",  # replaced by AttackTagValidator (unknown technique ids are warnings)
    "namespace_tag",  # replaced by LlmsiemNamespaceTagValidator
    "d3_fendtag",  # D3FEND data is fetched online; the pack uses no d3fend tags
    "filename_length",  # SigmaHQ file naming convention does not apply to this pack
    "duplicate_filename",  # covered by one-rule-per-file and unique names
    "fieldname_logsource",  # SigmaHQ Windows field lists
    "specific_instead_of_generic_logsource",  # SigmaHQ Windows logsources
}


@dataclass
class UnknownCatalogueTagIssue(SigmaValidationIssue):
    description: ClassVar[str] = "Tag not found in the bundled ATLAS/OWASP catalogue"
    severity: ClassVar[SigmaValidationIssueSeverity] = SigmaValidationIssueSeverity.MEDIUM
    tag: SigmaRuleTag


class LlmsiemNamespaceTagValidator(NamespaceTagValidator):
    """SigmaHQ namespaces plus ``atlas`` and ``owasp``."""

    allowed_namespace = NamespaceTagValidator.allowed_namespace | {"atlas", "owasp"}


class AtlasTagValidator(NamespaceTagValidator):
    """``atlas.aml.tNNNN[.NNN]`` tags must name a technique of the bundled ATLAS catalogue."""

    def validate_tag(self, tag: SigmaRuleTag) -> list[SigmaValidationIssue]:
        if tag.namespace == "atlas" and tag.name.upper() not in atlas_catalogue()["techniques"]:
            return [UnknownCatalogueTagIssue([self.rule], tag)]
        return []


class OwaspTagValidator(NamespaceTagValidator):
    """``owasp.llmNN`` tags must name an OWASP LLM Top 10 2025 category."""

    def validate_tag(self, tag: SigmaRuleTag) -> list[SigmaValidationIssue]:
        if tag.namespace == "owasp" and tag.name.upper() not in owasp_categories():
            return [UnknownCatalogueTagIssue([self.rule], tag)]
        return []


@cache
def owasp_categories() -> dict[str, str]:
    path = content_dir("mappings") / "taxonomy" / "owasp-llm-2025.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    categories: dict[str, str] = data["categories"]
    return categories


@dataclass(frozen=True)
class Finding:
    """One validation failure, located by rule file."""

    path: str
    rule: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: [{self.check}] {self.rule}: {self.message}"


def _detection_items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _detection_items(item)
        else:
            yield item


def rule_fields(rule: AnyRule) -> set[str]:
    """Every event field a rule reads (detection items, correlation group-by and value)."""
    if isinstance(rule, SigmaCorrelationRule):
        fields = set(rule.group_by or [])
        value_field = getattr(rule.condition, "fieldref", None)
        if isinstance(value_field, str):
            fields.add(value_field)
        return fields
    return {
        item.field
        for detection in rule.detection.detections.values()
        for item in _detection_items(detection)
        if item.field
    }


def _is_title_case(title: str) -> bool:
    words = title.split()
    return all(
        word[0].isupper() or word[0].isdigit() or (i > 0 and word in TITLE_SMALL_WORDS)
        for i, word in enumerate(words)
    )


def check_metadata(file: RuleFile, rule: AnyRule) -> Iterator[str]:
    """Required metadata in SigmaHQ style; yields one message per problem."""
    if not rule.title or not _is_title_case(rule.title):
        yield f"title {rule.title!r} is not Title Case"
    if not rule.name or not re.fullmatch(r"[a-z0-9_]+", rule.name):
        yield "name missing or not snake_case"
    elif file.path.stem != rule.name:
        yield f"file name {file.path.name} does not match rule name {rule.name}"
    if (
        not (rule.description or "").startswith("Detects")
        and rule.level
        and rule.level.name != ("INFORMATIONAL")
    ):
        yield "description must start with 'Detects'"
    if not rule.references:
        yield "no references"
    if rule.level is None:
        yield "no level"
    if not rule.falsepositives:
        yield "no falsepositives"
    if rule.status is None or rule.status.name.lower() not in REQUIRED_STATUS:
        yield f"status must be one of {sorted(REQUIRED_STATUS)}"
    if not rule.author or rule.date is None:
        yield "author and date are required"
    namespaces = {tag.namespace for tag in rule.tags}
    if "atlas" not in namespaces and describes_ml_attack(rule):
        yield (
            "needs a MITRE ATLAS tag (atlas.aml.tNNNN): its OWASP category "
            f"({', '.join(sorted(ML_ATTACK_OWASP))}) is an attack on the model"
        )
    if "owasp" not in namespaces:
        yield "needs an OWASP LLM Top 10 2025 tag (owasp.llmNN)"
    if isinstance(rule, SigmaRule) and rule.logsource.product != "llm":
        yield "logsource product must be llm"


def describes_ml_attack(rule: AnyRule) -> bool:
    """An ``llm`` rule describes an ML attack when it carries an OWASP category that is an
    attack on the model or its inputs (``ML_ATTACK_OWASP``); those need an ATLAS tag."""
    if isinstance(rule, SigmaRule) and rule.logsource.product != "llm":
        return False
    return any(t.namespace == "owasp" and t.name.lower() in ML_ATTACK_OWASP for t in rule.tags)


class AttackTagValidator(ATTACKTagValidator):
    """pySigma's ATT&CK check, except that a well-formed technique id missing from the data
    in use is a warning (``UnknownAttackTechniqueIssue``), not an error: the bundled data
    is a subset."""

    def validate_tag(self, tag: SigmaRuleTag) -> list[SigmaValidationIssue]:
        issues = super().validate_tag(tag)
        if issues and re.fullmatch(r"t\d{4}(\.\d{3})?", tag.name):
            return [UnknownAttackTechniqueIssue([self.rule], tag)]
        return issues


@dataclass
class UnknownAttackTechniqueIssue(SigmaValidationIssue):
    description: ClassVar[str] = "ATT&CK technique not in the ATT&CK data in use"
    severity: ClassVar[SigmaValidationIssueSeverity] = SigmaValidationIssueSeverity.LOW
    tag: SigmaRuleTag


def check_severity(rule: AnyRule) -> Iterator[str]:
    """The level maps to a valid severity in every target that carries one."""
    level = rule.level.name.lower() if rule.level else None
    if level is None:
        return
    if level not in KIBANA_SEVERITY or level not in RISK_SCORE or level not in SPLUNK_SEVERITY:
        yield f"level {level} has no Kibana/Splunk severity mapping"
    if (
        level == "critical"
        and isinstance(rule, SigmaRule)
        and not any(t.namespace == "attack" for t in rule.tags)
    ):
        yield "critical rules must carry an ATT&CK technique for triage"


def check_samples(file: RuleFile, rule: AnyRule, samples_root: Path | None) -> Iterator[str]:
    """At least one true positive and one true negative, each a valid event."""
    if not rule.name:
        return
    try:
        samples = load_samples_file(samples_file(file.path, rule.name, samples_root), rule.name)
    except SampleError as exc:
        yield str(exc)
        return
    if not samples.true_positives:
        yield "no true-positive sample"
    if not samples.true_negatives:
        yield "no true-negative sample"


def validate_pack(pack: RulePack, samples_root: Path | None = None) -> list[Finding]:
    """Every check over a pack; an empty list means the pack is valid."""
    use_bundled_mitre_data()
    findings: list[Finding] = []
    try:
        parsed = pack.parse_all()
    except RuleLoadError as exc:
        return [Finding(str(exc.path), "-", "load", str(exc))]
    schema = set(leaf_fields())
    ids = Counter(str(rule.id) for _, rule in parsed)
    titles = Counter(rule.title for _, rule in parsed)
    names = Counter(rule.name or "" for _, rule in parsed)
    path_of = {}
    for file, rule in parsed:
        where = str(file.path.relative_to(pack.root))
        path_of[rule.id] = where
        label = rule.name or rule.title

        def add(check: str, message: str, where: str = where, label: str = label) -> None:
            findings.append(Finding(where, label, check, message))

        for key, counter, value in (
            ("id", ids, str(rule.id)),
            ("title", titles, rule.title),
            ("name", names, rule.name or ""),
        ):
            if counter[value] > 1:
                add("unique", f"{key} {value!r} is used by {counter[value]} rules")
        for message in check_metadata(file, rule):
            add("metadata", message)
        for message in check_severity(rule):
            add("severity", message)
        for name in sorted(rule_fields(rule) - schema):
            add("fields", f"field {name!r} is not in the LLMEvent schema")
        for message in check_samples(file, rule, samples_root):
            add("samples", message)
        for message in regex_portability.check_rule(rule):
            add("regex", message)
        try:
            baseline_of(rule)
        except BaselineError as exc:
            add("baseline", str(exc))
    validator = SigmaValidator(
        [v for key, v in core_validators.items() if key not in EXCLUDED_CORE]
        + [LlmsiemNamespaceTagValidator, AtlasTagValidator, OwaspTagValidator]
        + [AttackTagValidator]
    )
    rules: list[Any] = [rule for _, rule in parsed]
    for issue in validator.validate_rules(iter(rules)):
        details = ", ".join(
            f"{name}={value}" for name, value in vars(issue).items() if name != "rules"
        )
        if isinstance(issue, UnknownAttackTechniqueIssue):
            for rule in issue.rules:
                findings.append(
                    Finding(
                        path_of.get(rule.id, "?"),
                        rule.name or rule.title,
                        "attack-data",
                        f"attack.{issue.tag.name} is well-formed but not in the ATT&CK data in "
                        f"use ({attack_technique_count()} techniques; the bundled data is a "
                        "subset): pass --attack-data enterprise-attack.json to check it",
                    )
                )
            continue
        for rule in issue.rules:
            findings.append(
                Finding(
                    path_of.get(rule.id, "?"),
                    rule.name or rule.title,
                    f"pysigma:{type(issue).__name__}",
                    f"{issue.description} ({details})" if details else issue.description,
                )
            )
    return findings
