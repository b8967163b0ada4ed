"""``llmsiem forget``: erase one person's events and alerts from every store (GDPR/CCPA)."""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from pathlib import Path

import click
from elasticsearch import Elasticsearch
from rich.table import Table

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    format_option,
    print_json,
)
from llmsiem.erasure.elastic import DEFAULT_INDEX, ElasticsearchStore
from llmsiem.erasure.forget import ErasureReport, forget, record_erasure
from llmsiem.erasure.jsonl import DeadLetterStore, JsonlStore
from llmsiem.erasure.parquet import ParquetStore
from llmsiem.erasure.respond_state import RespondStateStore
from llmsiem.erasure.spool import SpoolStore, spool_folders
from llmsiem.erasure.store import Store
from llmsiem.erasure.subject import USER_FIELDS, Subject
from llmsiem.respond.audit import AUDIT_KEY_ENV, AuditKeyError, AuditLog, audit_key_from_env

DEFAULT_SPOOL = Path(".llmsiem-spool")
DEFAULT_STATE = Path(".llmsiem")
DEFAULT_DEAD_LETTER = Path("llmsiem-deadletter.jsonl")
DEFAULT_ALERTS = Path("llmsiem-alerts.jsonl")
"""Where the commands write by default; each is included when it exists and its option is
not given."""

paths = click.Path(exists=True, path_type=Path)


def _jsonl_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]


def _elasticsearch(index: str, url: str | None = None) -> Store:
    url = url or os.environ.get("LLMSIEM_ES_URL")
    if not url:
        raise CommandError("set LLMSIEM_ES_URL (credentials are read from the environment only)")
    client = Elasticsearch(
        url, api_key=os.environ.get("LLMSIEM_ES_API_KEY"), max_retries=0, request_timeout=300
    )
    return ElasticsearchStore(client, index)


def _routed_stores(path: Path, es_index: str) -> list[Store]:
    """The stores behind a routes file's sinks (its spools are under --spool)."""
    from llmsiem.connectors.registry import SINKS
    from llmsiem.pipeline.routing import RoutesError, load_routes

    try:
        router = load_routes(path, SINKS.names())
    except RoutesError as exc:
        raise CommandError(str(exc)) from exc
    stores: list[Store] = []
    for name, spec in router.sinks.items():
        if spec.type == "elasticsearch":
            stores.append(_elasticsearch(es_index, spec.dest))
        elif spec.type in ("jsonl", "parquet") and spec.dest:
            dest = Path(spec.dest)
            stores.append(JsonlStore(dest) if spec.type == "jsonl" else ParquetStore(dest))
        else:
            raise CommandError(
                f"{path}: sinks.{name}: llmsiem cannot erase from a {spec.type} sink; "
                "erase there by its own means and leave it out of --routes"
            )
    return stores


def _audit_log(state: Path) -> AuditLog:
    try:
        key = audit_key_from_env()
    except AuditKeyError as exc:
        raise CommandError(str(exc)) from exc
    if key is None:
        raise CommandError(f"set {AUDIT_KEY_ENV}: --execute writes a keyed audit record")
    return AuditLog(state / "audit.jsonl", key)


@click.command("forget")
@click.option("--user", "user_id", required=True, help="The person's id (user.id or end user id).")
@click.option(
    "--jsonl",
    "jsonl",
    multiple=True,
    type=paths,
    help="Event or alert JSONL file, or a folder of them (ship --to jsonl, ingest --out, "
    f"detect --alerts; default {DEFAULT_ALERTS} of collect when it exists).",
)
@click.option(
    "--parquet", multiple=True, type=paths, help="Folder of Parquet part files (ship --to parquet)."
)
@click.option(
    "--spool",
    "spools",
    multiple=True,
    type=paths,
    help=f"Delivery spool folder (default {DEFAULT_SPOOL} when it exists).",
)
@click.option(
    "--dead-letter",
    "dead_letters",
    multiple=True,
    type=paths,
    help=f"Dead-letter JSONL file (default {DEFAULT_DEAD_LETTER} when it exists).",
)
@click.option(
    "--routes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also the sinks of this routes file (jsonl, parquet, elasticsearch).",
)
@click.option(
    "--elasticsearch",
    is_flag=True,
    help="Also Elasticsearch ($LLMSIEM_ES_URL, key in $LLMSIEM_ES_API_KEY).",
)
@click.option(
    "--es-index",
    default=DEFAULT_INDEX,
    show_default=True,
    help="Indices or data streams for --elasticsearch (comma-separated; patterns allowed).",
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="Response state folder: counted (kept), and where the audit record goes.",
)
@click.option("--execute", is_flag=True, help="Erase; without it nothing changes (dry run).")
@click.option("--request", "request_id", help="Your reference for the request (default: a new id).")
@format_option
def forget_cmd(
    user_id: str,
    jsonl: tuple[Path, ...],
    parquet: tuple[Path, ...],
    spools: tuple[Path, ...],
    dead_letters: tuple[Path, ...],
    routes: Path | None,
    elasticsearch: bool,
    es_index: str,
    state: Path,
    execute: bool,
    request_id: str | None,
    output_format: str,
) -> None:
    """Erase one person's events and alerts: dry run by default, --execute to erase.

    Matches user.id and llmsiem.end_user.id exactly, and alerts that cite one of the
    person's events. Files are rewritten atomically with every other line or row unchanged;
    Elasticsearch uses _delete_by_query. --execute appends an audit record (keyed with
    $LLMSIEM_AUDIT_KEY) to STATE/audit.jsonl naming the person only by a keyed hash.
    Exit 0 done, 1 a store failed, 2 usage error.
    """
    if not user_id.strip():
        raise CommandError("--user must not be empty")
    log = _audit_log(state) if execute else None
    if not spools and DEFAULT_SPOOL.is_dir():
        spools = (DEFAULT_SPOOL,)
    if not jsonl and DEFAULT_ALERTS.is_file():
        jsonl = (DEFAULT_ALERTS,)
    if not dead_letters and DEFAULT_DEAD_LETTER.is_file():
        dead_letters = (DEFAULT_DEAD_LETTER,)
    stores: list[Store] = [SpoolStore(f) for s in spools for f in spool_folders(s)]
    stores += [ParquetStore(p) for p in parquet]
    stores += [JsonlStore(f) for p in jsonl for f in _jsonl_files(p)]
    stores += [DeadLetterStore(p) for p in dead_letters]
    if routes is not None:
        stores += _routed_stores(routes, es_index)
    if elasticsearch:
        stores.append(_elasticsearch(es_index))
    if state.is_dir():
        stores.append(RespondStateStore(state))
    if not stores:
        raise CommandError(
            "no store given: --jsonl, --parquet, --spool, --dead-letter or --elasticsearch"
        )
    subject = Subject(user_id)
    report = forget(subject, stores, execute)
    request = request_id or uuid.uuid4().hex
    if log is not None:
        record_erasure(log, subject, report, request, getpass.getuser())
    _print(report, request, output_format)
    sys.exit(EXIT_FINDINGS if report.failed else EXIT_OK)


def _print(report: ErasureReport, request: str, output_format: str) -> None:
    summary = {
        "dry_run": not report.executed,
        "request": request,
        "fields": list(USER_FIELDS),
        "found": report.found,
        "erased": report.erased,
        "stores": [r.as_dict() for r in report.stores],
    }
    if output_format == "json":
        print_json(summary)
        return
    table = Table(title="erased" if report.executed else "would erase (dry run)")
    for column in ("store", "location", "found", "erased", "note"):
        table.add_column(column)
    for r in report.stores:
        note = r.error or (f"kept: {r.retained}" if r.retained else "")
        table.add_row(r.kind, r.location, str(r.found), str(r.erased), note)
    console.print(table)
    if report.executed:
        console.print(f"erased {report.erased:,} records; request {request}")
    else:
        console.print(f"would erase {report.found:,} records (add --execute); request {request}")
