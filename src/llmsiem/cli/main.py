"""Entry point of the ``llmsiem`` command.

Commands load lazily: each command's module (and its heavy imports: pySigma, DuckDB, the
backends) is imported only when that command runs or its help is asked, so ``llmsiem
--help`` lists every command from the table below without importing any of them.
"""

from __future__ import annotations

import errno
import importlib
import os
import tempfile
import traceback
from typing import Any

import click

# name -> (module under llmsiem.cli, attribute, short help shown by ``llmsiem --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agent-eval": (
        "agent_eval_cmd",
        "agent_eval_cmd",
        "Score the rule pack on generated agent/MCP sessions and AgentDojo.",
    ),
    "collect": (
        "collect_cmd",
        "collect_cmd",
        "Receive OTLP/HTTP traces and logs and LiteLLM logs; detect, ship, respond.",
    ),
    "compile": (
        "compile_cmd",
        "compile_cmd",
        "Compile the Sigma rule pack for one or more SIEM targets.",
    ),
    "coverage": (
        "coverage_cmd",
        "coverage_cmd",
        "Write the pack's MITRE ATLAS Navigator layer and an HTML report.",
    ),
    "demo": ("demo_cmd", "demo", "Run the main job on bundled sample telemetry."),
    "deploy": (
        "connectors_cmd",
        "deploy_group",
        "Install the compiled rule pack in Kibana or Splunk.",
    ),
    "detect": (
        "detect_cmd",
        "detect_cmd",
        "Run the whole rule pack over INPUTS (files or folders).",
    ),
    "eval": ("eval_cmd", "eval_cmd", "Score the rule pack on labelled attack and benign corpora."),
    "forget": (
        "forget_cmd",
        "forget_cmd",
        "Erase one person's events and alerts from every store (dry run by default).",
    ),
    "generate": ("generate_cmd", "generate_cmd", "Write synthetic normalized telemetry."),
    "ingest": (
        "connectors_cmd",
        "ingest_cmd",
        "Normalize telemetry of any registered source to scrubbed events.",
    ),
    "keep-evidence": (
        "connectors_cmd",
        "keep_evidence_cmd",
        "Copy the events alerts cite to the incident index (kept past retention).",
    ),
    "respond": ("respond_cmd", "respond_group", "Run playbooks on alerts: dry-run by default."),
    "schema": (
        "schema_cmd",
        "schema_group",
        "The normalized LLM event schema: export, validate, field reference.",
    ),
    "setup": ("connectors_cmd", "setup_group", "Prepare a SIEM for llmsiem events."),
    "ship": (
        "connectors_cmd",
        "ship_cmd",
        "Normalize and scrub INPUTS and deliver them to a sink.",
    ),
    "sinks": ("connectors_cmd", "sinks_cmd", "List the registered sinks and what --dest means."),
    "test": ("test_cmd", "test_cmd", "Run rules' samples and print each case's verdict."),
    "validate": (
        "validate_cmd",
        "validate_cmd",
        "Validate the rule pack offline; exit 1 on findings.",
    ),
    "verify": ("verify_cmd", "verify_group", "Run every rule's samples through a live SIEM."),
}


def _crash_report(exc: Exception) -> str:
    """A one-line report of a bug; the traceback goes to a file only its owner can read."""
    fd, path = tempfile.mkstemp(prefix="llmsiem-crash-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(traceback.format_exception(exc)))
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return (
        f"internal error (a bug in llmsiem, please report it): {type(exc).__name__}"
        + (f": {message}" if message else "")
        + f"; traceback in {path}"
    )


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, listed from ``COMMANDS``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, _ = COMMANDS[cmd_name]
        module = importlib.import_module(f"llmsiem.cli.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; no traceback reaches the user. A file it cannot open or write
        (a missing folder, no permission, a full disk) is an error naming the file; any
        other unexpected exception is a bug, reported in one line with the traceback in a
        private file (``LLMSIEM_DEBUG=1`` raises it instead). Both exit 2."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # click ends quietly when stdout's reader is gone
                raise
            from llmsiem.cli.common import CommandError

            reason = exc.strerror or str(exc)
            raise CommandError(f"{exc.filename}: {reason}" if exc.filename else reason) from exc
        except Exception as exc:
            if os.environ.get("LLMSIEM_DEBUG") == "1":
                raise
            from llmsiem.cli.common import CommandError

            raise CommandError(_crash_report(exc)) from exc

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="llmsiem", prog_name="llmsiem")
def cli() -> None:
    """llmsiem: detection content and SIEM integration for LLM application security.

    Exit codes: 0 success / nothing found, 1 findings (invalid events, alerts, failed
    checks), 2 errors (bad arguments, unreadable input).
    """
