"""``llmsiem verify elastic`` against recorded (hand-written) Elasticsearch exchanges.

The recordings hold the bodies the Elasticsearch API reference documents for create index,
``_bulk``, ``_search``, ``_eql/search`` and delete index, for a three-rule pack: a Lucene
detection, the base detection of a correlation, and the EQL correlation. The verdicts the
SIEM returns are compared with the embedded engine's, which the test computes afresh.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llmsiem.cli.main import cli
from llmsiem.connectors.verify import ElasticVerifier
from llmsiem.resources import content_dir

CASSETTES = Path(__file__).parent / "cassettes"
ES_URL = os.environ.get("LLMSIEM_TEST_ES_URL", "http://es.test:9200")
RULES = ("tool_destructive_sql", "model_refusal", "correlation_refusal_burst")


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in RULES:
        rule = next(content_dir("rules").rglob(f"{name}.yml"))
        shutil.copy(rule, folder)
        shutil.copy(rule.with_name(f"{name}.samples.yml"), folder)
    return folder


def test_a_rule_without_samples_is_an_error_naming_the_file(pack: Path) -> None:
    (pack / "model_refusal.samples.yml").unlink()
    result = _verify(pack)
    assert result.exit_code == 2
    assert "model_refusal.samples.yml: no samples file" in result.output
    assert "Traceback" not in result.output


def _verify(pack: Path, *extra: str) -> Result:
    env = {"LLMSIEM_ES_API_KEY": os.environ.get("LLMSIEM_TEST_ES_API_KEY", "unused")}
    return CliRunner().invoke(
        cli,
        [
            "verify",
            "elastic",
            "--url",
            ES_URL,
            "--rules",
            str(pack),
            "--index",
            "llmsiem-verify-test",
            *extra,
        ],
        env=env,
    )


@pytest.mark.vcr(str(CASSETTES / "verify_es_agree.handwritten.yaml"))
def test_every_rule_agrees_exit_0(pack: Path) -> None:
    result = _verify(pack, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"] == (
        "kibana-ndjson@elasticsearch: rules 3, agree 3, disagree 0, parse errors 0"
    )
    assert {(r["rule"], r["language"], r["agrees"]) for r in report["rules"]} == {
        ("tool_destructive_sql", "lucene", True),
        ("model_refusal", "lucene", True),
        ("correlation_refusal_burst", "eql", True),
    }


@pytest.mark.vcr(str(CASSETTES / "verify_es_disagree.handwritten.yaml"))
def test_a_missed_event_is_a_disagreement_exit_1(pack: Path) -> None:
    result = _verify(pack)
    assert result.exit_code == 1
    assert "agree 2, disagree 1" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "tool_destructive_sql" in line)
    assert "differ" in row


@pytest.mark.vcr(str(CASSETTES / "verify_es_unauthorized.handwritten.yaml"))
def test_refused_credentials_exit_2_without_traceback(pack: Path) -> None:
    result = _verify(pack)
    assert result.exit_code == 2
    assert "credentials refused (401)" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_unreachable_siem_exit_2(pack: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["verify", "elastic", "--url", "http://127.0.0.1:9", "--rules", str(pack)],
        env={"LLMSIEM_ES_API_KEY": "unused"},
    )
    assert result.exit_code == 2
    assert "cannot connect" in result.stderr


def test_esql_source_is_the_scratch_index() -> None:
    """ES|QL correlations read the scratch index, never the SOC's logs-llm* data."""
    calls: list[str] = []

    class Esql:
        def query(self, query: str, **_: object) -> dict[str, object]:
            calls.append(query)
            return {"columns": [{"name": "_id", "type": "keyword"}], "values": [["e-1"]]}

    class Client:
        esql = Esql()

    verifier = ElasticVerifier(Client(), "llmsiem-verify-x")
    text = 'from logs-llm* metadata _id | where event.action == "prompt"'
    response = verifier._esql(text, None)
    assert calls == ['from llmsiem-verify-x metadata _id | where event.action == "prompt"']
    assert response["values"] == [["e-1"]]


SPLUNK_URL = os.environ.get("LLMSIEM_TEST_SPLUNK_URL", "http://splunk.test:8089")


def _verify_splunk(pack: Path, *extra: str) -> Result:
    env = {"LLMSIEM_SPLUNK_TOKEN": os.environ.get("LLMSIEM_TEST_SPLUNK_TOKEN", "unused")}
    return CliRunner().invoke(
        cli,
        [
            "verify",
            "splunk",
            "--url",
            SPLUNK_URL,
            "--rules",
            str(pack),
            "--index",
            "llmsiem-verify-test",
            "--no-variants",
            *extra,
        ],
        env=env,
    )


@pytest.mark.vcr(str(CASSETTES / "verify_splunk_agree.handwritten.yaml"))
def test_splunk_every_rule_agrees_exit_0(pack: Path) -> None:
    result = _verify_splunk(pack, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"] == "splunk-spl@splunk: rules 3, agree 3, disagree 0, parse errors 0"
    assert report["events"] == 27


@pytest.mark.vcr(str(CASSETTES / "verify_splunk_disagree.handwritten.yaml"))
def test_splunk_an_extra_event_is_a_disagreement_exit_1(pack: Path) -> None:
    result = _verify_splunk(pack, "--format", "json")
    assert result.exit_code == 1
    rows = {r["rule"]: r for r in json.loads(result.stdout)["rules"]}
    assert rows["model_refusal"]["extra"] == ["tool_destructive_sql:true_negatives[0]-0"]
    assert rows["tool_destructive_sql"]["agrees"] and rows["correlation_refusal_burst"]["agrees"]
