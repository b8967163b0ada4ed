"""Response actions by registered name: built-ins, plugins and playbooks that name them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmsiem.respond.action import Action
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import Playbook, PlaybookLoadError, Trigger, load_playbooks
from llmsiem.respond.registry import ACTIONS, BUILTIN_ACTIONS
from llmsiem.respond.runner import Runner
from llmsiem.respond.step import Status
from respond_helpers import AUDIT_KEY, FlakyAction, make_alert


def test_every_builtin_is_an_action_registered_under_its_own_name() -> None:
    for name in BUILTIN_ACTIONS:
        action = ACTIONS.get(name)
        assert issubclass(action, Action) and action.name == name
    used = {f().name for p in load_playbooks() for f in p.factories}
    assert used <= set(BUILTIN_ACTIONS)


def test_a_registered_action_runs_from_a_playbook_that_names_it(tmp_path: Path) -> None:
    if "flaky" not in ACTIONS.names():
        ACTIONS.register("flaky", "respond_helpers:FlakyAction")
    playbook = Playbook(
        id="named",
        title="Named",
        trigger=Trigger(rules=("correlation_guardrail_block_burst",), min_level="medium"),
        inputs={"user": "user.id"},
        steps=("flaky",),
    )
    FlakyAction.state = {}
    config = RunnerConfig(execute=True, state_dir=tmp_path)
    (record,) = Runner(config, [playbook], "t", AUDIT_KEY).handle(make_alert())
    assert record.status is Status.EXECUTED and record.ref == "named/flaky"


def test_an_unknown_action_name_fails_loading_with_the_name() -> None:
    with pytest.raises(PlaybookLoadError, match="no-such-action"):
        Playbook(
            id="broken",
            title="Broken",
            trigger=Trigger(),
            inputs={},
            steps=("no-such-action",),
        )


def test_cli_lists_the_registered_actions() -> None:
    from llmsiem.cli.main import cli

    result = CliRunner().invoke(cli, ["respond", "actions", "--format", "json"])
    assert result.exit_code == 0, result.output
    names = {row["name"] for row in json.loads(result.output)}
    assert set(BUILTIN_ACTIONS) <= names
