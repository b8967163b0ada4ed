"""The Splunk app passes Splunk AppInspect (precert) with 0 failures and 0 errors.

AppInspect runs for real from ``.venv-appinspect`` (``make appinspect-venv``; its croniter pin
conflicts with the project's). Its one warning and one skipped check are explained below.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.output import package_splunk_app, write_result
from llmsiem.conformance import spl
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.verdicts import engine_verdicts
from llmsiem.rule_samples import build_event

ROOT = Path(__file__).resolve().parents[1]
APPINSPECT = Path(
    os.environ.get("LLMSIEM_APPINSPECT", ROOT / ".venv-appinspect" / "bin" / "splunk-appinspect")
)
# The cloud-metadata rule must name the link-local metadata addresses it detects
# (169.254.169.254, 169.254.170.2, 100.100.100.200): AppInspect warns on any IP in an app.
EXPLAINED_WARNINGS = {"check_hostnames_and_ips"}
# Checks the package id in app.manifest, which only the Splunk Packaging Toolkit writes; the
# app.conf [package] id and [id] name it would compare are set.
EXPLAINED_SKIPS = {"check_for_valid_package_id"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("splunk")
    write_result(compile_pack("splunk-savedsearches"), out)
    return out / "splunk-savedsearches" / "llmsiem"


def test_appinspect_precert_has_no_failures_or_errors(app: Path, tmp_path: Path) -> None:
    if not APPINSPECT.is_file():
        pytest.fail(f"Splunk AppInspect not found at {APPINSPECT}: run `make appinspect-venv`")
    package = package_splunk_app(app, tmp_path)
    report_file = tmp_path / "appinspect.json"
    run = subprocess.run(
        [
            *(str(APPINSPECT), "inspect", str(package), "--mode", "precert"),
            *("--data-format", "json", "--output-file", str(report_file)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report_file.is_file(), run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(report_file.read_text())
    summary = report["summary"]
    checks = [c for g in report["reports"][0]["groups"] for c in g["checks"]]
    by_result: dict[str, list[str]] = {}
    for check in checks:
        by_result.setdefault(check["result"], []).append(check["name"])
    print(
        f"appinspect precert: failures {summary['failure']}, errors {summary['error']}, "
        f"warnings {summary['warning']} ({', '.join(by_result.get('warning', []))}), "
        f"skipped {summary['skipped']}"
    )
    assert summary["failure"] == 0 and summary["error"] == 0, {
        k: by_result.get(k) for k in ("failure", "error")
    }
    assert set(by_result.get("warning", [])) <= EXPLAINED_WARNINGS
    assert set(by_result.get("skipped", [])) <= EXPLAINED_SKIPS


def test_app_has_no_prohibited_command_text(app: Path) -> None:
    text = (app / "default" / "savedsearches.conf").read_text()
    assert "rm -rf" not in text.lower()


def test_shell_rule_still_matches_destructive_rm(app: Path) -> None:
    """The char-class spelling keeps the rule's meaning: the same verdicts as the engine."""
    corpus = SampleCorpus()
    arguments = [
        '{"command": "rm -rf /var/www"}',
        '{"command": "RM -RF /"}',
        '{"command": "echo rm -r f"}',
        '{"command": "rm -fr /tmp/x"}',
    ]
    for n, text in enumerate(arguments):
        corpus.events.append(
            build_event(
                {
                    "event.action": "tool_call",
                    "gen_ai.tool.name": "run_shell",
                    "gen_ai.tool.call.arguments": text,
                },
                n,
                "rm",
            )
        )
    rule = "tool_shell_command_execution"
    engine = engine_verdicts(corpus).detections[rule]
    assert engine == {"rm-0", "rm-1"}
    observed = spl.app_verdicts(app, compile_pack("splunk-savedsearches"), corpus)
    assert observed.detections[rule] == engine
