"""Lazy commands: ``llmsiem --help`` lists every command without importing any, and
``detect --help`` does not load pySigma, DuckDB or the engine."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from llmsiem.cli.main import COMMANDS, cli

PROBE = """
import sys
from llmsiem.cli.main import cli
try:
    cli({args!r})
except SystemExit:
    pass
light = ('llmsiem.pipeline', 'llmsiem.pipeline.sources')  # the source registry: names only
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sigma', 'duckdb', 'pydantic')
               or m.startswith(('llmsiem.engine', 'llmsiem.compiler', 'llmsiem.pipeline'))
               and m not in light)
commands = sorted(m for m in sys.modules if m.startswith('llmsiem.cli.') and m.endswith('_cmd'))
print(heavy, commands)
"""


def _loaded(*args: str) -> str:
    code = PROBE.format(args=list(args))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_top_level_help_imports_no_command() -> None:
    assert _loaded("--help") == "[] []"


def test_detect_help_imports_only_its_own_module() -> None:
    assert _loaded("detect", "--help") == "[] ['llmsiem.cli.detect_cmd']"


def test_every_listed_command_resolves_to_itself() -> None:
    help_text = CliRunner().invoke(cli, ["--help"]).output
    context = click.Context(cli)
    for name in COMMANDS:
        assert f"  {name} " in help_text
        command = cli.get_command(context, name)
        assert command is not None and command.name == name


def test_validate_help_imports_only_its_own_module() -> None:
    assert _loaded("validate", "--help") == "[] ['llmsiem.cli.validate_cmd']"


def test_compile_help_reads_target_names_from_the_registry_only() -> None:
    registry = "['llmsiem.compiler', 'llmsiem.compiler.targets']"  # no target module, no sigma
    assert _loaded("compile", "--help") == f"{registry} ['llmsiem.cli.compile_cmd']"
