"""Entry point of the ``llmsiem`` command."""

from __future__ import annotations

import click

from llmsiem import __version__
from llmsiem.cli.agent_eval_cmd import agent_eval_cmd
from llmsiem.cli.compile_cmd import compile_cmd
from llmsiem.cli.connectors_cmd import (
    deploy_group,
    ingest_cmd,
    setup_group,
    ship_cmd,
    sinks_cmd,
)
from llmsiem.cli.coverage_cmd import coverage_cmd
from llmsiem.cli.demo_cmd import demo
from llmsiem.cli.detect_cmd import detect_cmd
from llmsiem.cli.eval_cmd import eval_cmd
from llmsiem.cli.generate_cmd import generate_cmd
from llmsiem.cli.respond_cmd import respond_group
from llmsiem.cli.schema_cmd import schema_group
from llmsiem.cli.test_cmd import test_cmd
from llmsiem.cli.validate_cmd import validate_cmd
from llmsiem.cli.verify_cmd import verify_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="llmsiem")
def cli() -> None:
    """llmsiem: detection content and SIEM integration for LLM application security.

    Exit codes: 0 success / nothing found, 1 findings (invalid events, alerts, failed
    checks), 2 errors (bad arguments, unreadable input).
    """


cli.add_command(schema_group)
cli.add_command(demo)
cli.add_command(generate_cmd)
cli.add_command(agent_eval_cmd)
cli.add_command(coverage_cmd)
cli.add_command(compile_cmd)
cli.add_command(validate_cmd)
cli.add_command(test_cmd)
cli.add_command(detect_cmd)
cli.add_command(eval_cmd)
cli.add_command(ingest_cmd)
cli.add_command(ship_cmd)
cli.add_command(sinks_cmd)
cli.add_command(setup_group)
cli.add_command(deploy_group)
cli.add_command(respond_group)
cli.add_command(verify_group)
