"""``llmsiem eval``: Wilson intervals, the seeded split, target checks, the per-rule table,
labelled extra corpora, and the efficacy targets on the dev corpora."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import shared_path
from llmsiem.cli.main import cli
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.rules import compile_for_engine
from llmsiem.evaluation import (
    TARGETS,
    Case,
    evaluate_pack,
    in_split,
    labelled_rows,
    target_checks,
    wilson,
    write_rule_table,
)
from llmsiem.pipeline import Pipeline
from llmsiem.rule_samples import build_event
from llmsiem.rulepack import RulePack
from llmsiem.scrub import Scrubber


def test_wilson_interval_known_values() -> None:
    low, high = wilson(8, 10)
    assert math.isclose(low, 0.4902, abs_tol=1e-4)
    assert math.isclose(high, 0.9433, abs_tol=1e-4)
    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(0, 50)
    assert low == 0.0 and 0.06 < high < 0.08


def test_split_halves_are_disjoint_seeded_and_balanced() -> None:
    ids = [f"row:{n}" for n in range(2000)]
    tune = {i for i in ids if in_split(i, "tune")}
    check = {i for i in ids if in_split(i, "check")}
    assert tune.isdisjoint(check) and tune | check == set(ids)
    assert 900 < len(tune) < 1100
    assert all(in_split(i, "all") for i in ids)
    assert tune == {i for i in ids if in_split(i, "tune")}
    other_seed = {i for i in ids if in_split(i, "tune", seed="another seed")}
    assert other_seed != tune


def _report(**recalls: float) -> dict[str, Any]:
    families = [
        {"name": name, "recall": value, "total": 100, "flagged": int(value * 100)}
        for name, value in recalls.items()
    ]
    benign = [
        {"name": "notinject_one", "kind": "hard_negative", "total": 100, "fpr": 0.01},
        {"name": "wildguard_dev", "kind": "hard_negative", "total": 100, "fpr": 0.04},
        {"name": "xstest_safe", "kind": "ordinary", "total": 100, "fpr": 0.0},
    ]
    return {
        "attack_families": families,
        "benign_sets": benign,
        "benign_kinds": [
            {"name": "ordinary", "fpr": 0.004},
            {"name": "hard_negative", "fpr": 0.025},
        ],
        "macro_recall": sum(recalls.values()) / len(recalls),
    }


def test_target_checks_name_the_failing_family_and_benign_set() -> None:
    checks = target_checks(
        _report(jailbreak=0.95, system_prompt_extraction=0.9, bipia_text_injection=0.8, tools=0.5)
    )
    assert set(checks) == {t.name for t in TARGETS}
    assert checks["jailbreak_recall"]["met"]
    assert checks["system_prompt_extraction_recall"]["met"]  # the bound is inclusive
    assert checks["ordinary_fpr"]["met"]
    assert not checks["lowest_family_recall"]["met"]
    assert checks["lowest_family_recall"]["where"] == "tools"
    # the kind-wide hard-negative rate is 2.5%, but one set is at 4%: the set fails
    assert not checks["hard_negative_set_fpr"]["met"]
    assert checks["hard_negative_set_fpr"]["where"] == "wildguard_dev"
    missing = target_checks(_report(tools=0.9))
    assert missing["jailbreak_recall"] == {"value": None, "target": 0.9, "met": False}


def test_rule_table_is_written_as_csv_or_markdown(tmp_path: Path) -> None:
    report = {
        "benign_sets": [{"name": "wildguard_dev"}, {"name": "xstest_safe"}],
        "rule_table": [
            {"rule": "r1", "tp": 5, "tp_only": 2, "fp": 1, "wildguard_dev": 1, "xstest_safe": 0}
        ],
    }
    write_rule_table(report, tmp_path / "rules.csv")
    rows = list(csv.DictReader((tmp_path / "rules.csv").open(encoding="utf-8")))
    assert rows == [
        {
            "rule": "r1",
            "tp": "5",
            "tp_only": "2",
            "fp": "1",
            "wildguard_dev": "1",
            "xstest_safe": "0",
        }
    ]
    write_rule_table(report, tmp_path / "rules.md")
    lines = (tmp_path / "rules.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "| rule | tp | tp_only | fp | wildguard_dev | xstest_safe |"
    assert lines[2] == "| r1 | 5 | 2 | 1 | 1 | 0 |"


def test_labelled_rows_read_the_shipped_hard_negatives_and_reject_bad_lines(
    tmp_path: Path,
) -> None:
    shipped = Path(__file__).parents[1] / "corpora" / "hard_negatives"
    rows = list(labelled_rows(shipped / "llmsiem_hard_negatives.jsonl"))
    assert len(rows) >= 150
    assert {(label, group, kind) for _, label, group, kind, _ in rows} == {
        ("benign", "llmsiem_hard_negatives", "hard_negative")
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "hi", "label": "benign", "set": "x"}\n{"text": "no label"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        list(labelled_rows(bad))


def test_eval_check_exits_1_naming_the_missed_target(tmp_path: Path) -> None:
    corpora = shared_path("corpora", "dev")
    rules = tmp_path / "rules"
    rules.mkdir()
    source = Path(__file__).parents[1] / "rules" / "prompt" / "jailbreak_dan_family.yml"
    (rules / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    table = tmp_path / "rules.md"
    result = CliRunner().invoke(
        cli,
        [
            *("eval", "--corpora", str(corpora), "--rules", str(rules), "--split", "check"),
            *("--check", "--rule-table", str(table)),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "efficacy targets missed" in result.stderr
    assert "macro_recall" in result.stderr and "jailbreak_recall" in result.stderr
    assert "jailbreak_dan_family" in table.read_text(encoding="utf-8")


@pytest.mark.slow
def test_eval_on_dev_corpora_meets_the_targets() -> None:
    corpora = shared_path("corpora", "dev")
    result = CliRunner().invoke(cli, ["eval", "--corpora", str(corpora), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    targets = report["targets"]
    assert set(targets) == {t.name for t in TARGETS}
    families = {f["name"]: f for f in report["attack_families"]}
    assert len(families) >= 10
    for family in families.values():
        low, high = family["ci95"]
        assert low <= family["recall"] <= high
    sets = {s["name"]: s for s in report["benign_sets"]}
    assert {"notinject_one", "notinject_two", "wildguard_dev"} <= set(sets)
    assert sets["wildguard_dev"]["total"] == 485
    assert report["precision"] > 0.99
    missed = {name: target for name, target in targets.items() if not target["met"]}
    assert not missed, missed


def _tool_case(case_id: str, label: str, trace: str, calls: list[tuple[str, str]]) -> Case:
    events = tuple(
        build_event(
            {
                "event.action": "tool_call",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.arguments": arguments,
                "trace.id": trace,
            },
            n,
            case_id,
        )
        for n, (name, arguments) in enumerate(calls)
    )
    return Case(case_id, label, "family" if label == "attack" else "calls", None, events)


def test_a_correlation_counts_only_for_the_case_holding_all_its_evidence() -> None:
    lookup = ("mailbox_search", '{"q": "verification code"}')
    send = ("send_mail", '{"to": "x@example.net", "body": "hi"}')
    cases = [
        _tool_case("whole", "attack", "t-1", [lookup, send]),
        # the same two calls split over two cases of one trace: the correlation fires
        # across them and must count for neither
        _tool_case("first-half", "attack", "t-2", [lookup]),
        _tool_case("second-half", "benign", "t-2", [send]),
    ]
    rules = compile_for_engine(RulePack.load())
    report = evaluate_pack(rules, cases, Pipeline(Scrubber("redact"), DeadLetter(None)))
    name = "correlation_auth_code_lookup_then_outbound_message"
    family = {f["name"]: f for f in report["attack_families"]}["family"]
    assert family["flagged"] == 1 and family["rules"] == {name: 1}
    assert report["false_positive_cases"] == []
