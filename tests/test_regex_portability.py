"""``llmsiem validate`` refuses a rule regex that a compile target cannot run, naming the rule,
the target and the reason; the shipped pack has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from llmsiem.cli.main import cli
from llmsiem.compiler.regex_portability import LUCENE_TARGETS, RE2_TARGETS, check_rule
from llmsiem.resources import content_dir
from llmsiem.rulecheck import validate_pack
from llmsiem.rulepack import RulePack

RULE = "tool_destructive_sql"
SAMPLES = """\
rule: tool_destructive_sql
true_positives:
  - - event.action: tool_call
      gen_ai.tool.name: run_sql
      gen_ai.tool.call.arguments: '{"query": "DROP TABLE customers;"}'
true_negatives:
  - - event.action: tool_call
      gen_ai.tool.name: run_sql
      gen_ai.tool.call.arguments: '{"query": "SELECT 1;"}'
"""


def _pack(tmp_path: Path, pattern: str) -> tuple[Path, Path]:
    """A one-rule pack whose rule carries ``pattern`` as an extra ``re`` selection."""
    source = next(content_dir("rules").rglob(f"{RULE}.yml"))
    rule = yaml.safe_load(source.read_text(encoding="utf-8"))
    rule["detection"]["selection_regex"] = {"gen_ai.tool.call.arguments|re": pattern}
    rule["detection"]["condition"] = "1 of selection_*"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / source.name).write_text(yaml.safe_dump(rule, sort_keys=False), encoding="utf-8")
    samples = tmp_path / "samples" / RULE
    samples.mkdir(parents=True)
    (samples / "samples.yml").write_text(SAMPLES, encoding="utf-8")
    return rules, samples.parent


def _regex_findings(tmp_path: Path, pattern: str) -> list[str]:
    rules, samples = _pack(tmp_path, pattern)
    findings = [f for f in validate_pack(RulePack.load(rules), samples) if f.check == "regex"]
    assert all(f.rule == RULE and f.path == f"{RULE}.yml" for f in findings)
    return [f.message for f in findings]


@pytest.mark.parametrize(
    ("pattern", "target", "reason"),
    [
        ("drop(?= table)", RE2_TARGETS, "lookahead"),
        ("(drop) \\1", RE2_TARGETS, "backreference"),
        ("drop table\\Z", RE2_TARGETS, "\\Z"),
        ("drop++", RE2_TARGETS, "possessive"),
        ("\\bdrop\\b", LUCENE_TARGETS, "word boundary"),
        ("drop|x^y", LUCENE_TARGETS, "anchor"),
        ("[a-z].{20}table", LUCENE_TARGETS, "10,000 determinize-work budget"),
        ("drop (" + "|".join(f"t{i:03d}" for i in range(200)) + ")", LUCENE_TARGETS, "1000"),
    ],
)
def test_unportable_regex_is_a_finding(
    tmp_path: Path, pattern: str, target: str, reason: str
) -> None:
    messages = _regex_findings(tmp_path, pattern)
    assert any(m.startswith(target) and reason in m for m in messages), messages


def test_portable_regex_passes(tmp_path: Path) -> None:
    assert _regex_findings(tmp_path, "(^|[^a-z])drop [a-z_-]{2,}") == []


def test_validate_command_names_rule_target_and_reason(tmp_path: Path) -> None:
    rules, samples = _pack(tmp_path, "\\bdrop\\b")
    result = CliRunner().invoke(
        cli, ["validate", "--rules", str(rules), "--samples", str(samples), "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    (finding,) = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "regex"]
    assert finding["rule"] == RULE
    assert finding["message"].startswith(LUCENE_TARGETS)
    assert "word boundary" in finding["message"]


def test_shipped_rule_regexes_run_on_every_target() -> None:
    problems = [
        f"{rule.name}: {problem}"
        for _, rule in RulePack.load().parse_all()
        for problem in check_rule(rule)
    ]
    assert problems == []
