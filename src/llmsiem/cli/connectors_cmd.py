"""``llmsiem ingest``, ``ship``, ``setup`` and ``deploy``: telemetry in, events and rules out."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import click
import requests

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    dead_letter_option,
    format_option,
    load_engine_rules,
    make_pipeline,
    print_json,
    rules_option,
    scrub_option,
    source_format_option,
    streaming_collections,
    tuning_option,
)
from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.output import write_kibana
from llmsiem.connectors.deploy import KibanaDeployer, SplunkDeployer, saved_searches
from llmsiem.connectors.registry import SINKS
from llmsiem.connectors.sink import Sink, SinkConfigError
from llmsiem.connectors.spool import Spool, SpoolBusyError, Spooled
from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline import Event, Pipeline
from llmsiem.pipeline.routing import Router, RoutesError, alerted_event_ids, load_routes
from llmsiem.plugins import PluginError
from llmsiem.records import expand_inputs

if TYPE_CHECKING:
    from llmsiem.rulepack import RuleSources


def _spooled(inputs: tuple[Path, ...], pipeline: Pipeline) -> Iterator[Spooled]:
    """Valid, scrubbed events of every input with their position (the rest: dead letter)."""
    try:
        paths = expand_inputs(inputs)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    for path in paths:
        key = str(path.resolve())
        for event in pipeline.file_events(path):
            yield Spooled(event.document, key, event.line)


def _documents(inputs: tuple[Path, ...], pipeline: Pipeline) -> Iterator[dict[str, Any]]:
    """Valid, scrubbed documents of every input (the rest goes to the dead letter)."""
    return (spooled.document for spooled in _spooled(inputs, pipeline))


@click.command("ingest")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@source_format_option
@scrub_option
@dead_letter_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Normalized, scrubbed JSONL to write ('-' for stdout).",
)
@format_option
def ingest_cmd(
    inputs: tuple[Path, ...],
    source_format: str,
    scrub_mode: str,
    dead_letter: Path,
    out: Path,
    output_format: str,
) -> None:
    """Normalize telemetry of any registered source to scrubbed LLMEvent JSONL.

    INPUTS are JSON/JSONL files (gzip-compressed too, e.g. events.jsonl.gz) or folders
    of them."""
    events = 0
    with DeadLetter(dead_letter) as letters:
        pipeline = make_pipeline(scrub_mode, letters, source_format)
        stream = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8")
        try:  # each event is written as it passes: a crash loses at most the one in hand
            for document in _documents(inputs, pipeline):
                stream.write(json.dumps(document, ensure_ascii=False) + "\n")
                stream.flush()
                events += 1
        finally:
            if stream is not sys.stdout:
                stream.close()
        rejected = pipeline.rejected
    summary = {"events": events, "rejected": rejected, "out": str(out)}
    if output_format == "json" and str(out) != "-":
        print_json(summary)
    elif str(out) != "-":
        console.print(
            f"{events:,} events → {out}; {rejected} rejected"
            + (f" → {dead_letter}" if rejected else "")
        )
    sys.exit(EXIT_FINDINGS if rejected else EXIT_OK)


def _env(name: str, given: str | None, required: bool = True) -> Any:
    import os

    value = given or os.environ.get(name)
    if required and not value:
        raise CommandError(f"set {name} (credentials are read from the environment only)")
    return value


@click.command("ship")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Choice(SINKS.names()), help="A registered sink.")
@click.option(
    "--routes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Routes file (sinks and which events go to each) instead of --to/--dest; each sink "
    "gets its own spool under --spool. Example: connectors/routes.example.yml.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --routes: print how many events and bytes each sink would get; send nothing.",
)
@click.option("--dest", help="Where the sink delivers; `llmsiem sinks` says what each takes.")
@click.option(
    "--spool",
    "spool_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".llmsiem-spool"),
    show_default=True,
    help="Disk spool; undelivered events wait here across restarts.",
)
@click.option("--batch-size", default=500, show_default=True)
@source_format_option
@scrub_option
@dead_letter_option
@rules_option
@tuning_option
@format_option
def ship_cmd(
    inputs: tuple[Path, ...],
    target: str | None,
    routes: Path | None,
    dry_run: bool,
    dest: str | None,
    spool_dir: Path,
    batch_size: int,
    source_format: str,
    scrub_mode: str,
    dead_letter: Path,
    rules: RuleSources | None,
    tuning: Path | None,
    output_format: str,
) -> None:
    """Normalize and scrub INPUTS, spool them, and deliver them to a sink (at least once).

    INPUTS are JSON/JSONL files (gzip-compressed too) or folders of them.

    With no INPUTS, delivers what is left in the spool from an interrupted run. Secrets for
    sinks come from the environment: LLMSIEM_ES_API_KEY, LLMSIEM_SPLUNK_HEC_TOKEN. With
    --routes, each event goes to the sinks of the routes it matches; when a route tests
    `alerted`, the rule pack (--rules, --tuning) runs over INPUTS first.
    """
    if (target is None) == (routes is None):
        raise CommandError("give either --to SINK or --routes FILE")
    if dry_run and routes is None:
        raise CommandError("--dry-run needs --routes")
    with streaming_collections(), DeadLetter(dead_letter) as letters:
        pipeline = make_pipeline(scrub_mode, letters, source_format)
        if routes is not None:
            router = _router(routes)
            shares = _route(router, inputs, pipeline, rules, tuning) if inputs else {}
            if dry_run:
                _print_shares(shares, output_format)
                return
            sinks = {n: _sink(s.type, s.dest, letters) for n, s in router.sinks.items()}
            summaries = {  # every sink's share is spooled even when another sink is down
                name: _ship_to(name, sink, spool_dir / name, shares.get(name), batch_size, letters)
                for name, sink in sinks.items()
            }
            summary: dict[str, Any] = {"sinks": summaries, "routes": str(routes)}
        else:
            assert target is not None
            items = _spooled(inputs, pipeline) if inputs else None
            sink = _sink(target, dest, letters)
            summary = _ship_to(target, sink, spool_dir, items, batch_size, letters)
            summary["target"] = target
        summary["dead_lettered"] = letters.count
    stopped = [one.pop("stopped") for one in summary.get("sinks", {target: summary}).values()]
    if any(stopped):
        raise CommandError("; ".join(filter(None, stopped)))
    if output_format == "json":
        print_json(summary)
    else:
        for name, one in summary.get("sinks", {target: summary}).items():
            console.print(f"spooled {one['spooled']:,}, delivered {one['delivered']:,} to {name}")
        console.print(f"{letters.count} dead-lettered")
    sys.exit(EXIT_FINDINGS if letters.count else EXIT_OK)


def _sink(sink_type: str, dest: str | None, letters: DeadLetter) -> Sink:
    try:
        return SINKS.get(sink_type).create(dest, letters)
    except (SinkConfigError, PluginError) as exc:
        raise CommandError(str(exc)) from exc


def _ship_to(
    name: str,
    sink: Sink,
    spool_dir: Path,
    items: Iterable[Spooled] | None,
    batch_size: int,
    letters: DeadLetter,
) -> dict[str, Any]:
    """Spool ``items`` for one sink while delivering everything its spool holds; ``stopped``
    says why delivery stopped early (the rest waits in the spool)."""
    try:
        spool = Spool(spool_dir, letters.write)
        spool.lock()
    except (SpoolBusyError, OSError) as exc:
        raise CommandError(f"spool {spool_dir}: {exc}") from exc
    if spool.repaired:
        console.print(f"[yellow]spool {spool_dir}: {spool.repaired}[/]", highlight=False)
    try:
        spooled, drained = spool.deliver(items, sink, batch_size)
    except OSError as exc:  # the append's (the drain's stop it, in ``drained.stopped``)
        raise CommandError(
            f"spool {spool_dir}: {exc}; events spooled so far are kept, run ship "
            "again with the same inputs once there is room"
        ) from exc
    finally:
        spool.unlock()
    total = drained.total
    return {
        "spooled": spooled,
        "delivered": total.delivered,
        "duplicates": total.duplicate,
        "retries": total.retries,
        "stopped": drained.stopped
        and f"{name}: {drained.stopped}; undelivered events stay in {spool_dir}",
    }


def _router(path: Path) -> Router:
    try:
        return load_routes(path, SINKS.names())
    except RoutesError as exc:
        raise CommandError(str(exc)) from exc


def _route(
    router: Router,
    inputs: tuple[Path, ...],
    pipeline: Pipeline,
    rules: RuleSources | None,
    tuning: Path | None,
) -> dict[str, list[Spooled]]:
    """Each sink's events; detection runs over all of them first when a route needs alerts."""
    events = list(_spooled(inputs, pipeline))
    alerted: set[str] = set()
    if router.uses_alerts and events:
        from llmsiem.engine.detect import Detector
        from llmsiem.engine.store import EventStore

        store = EventStore()
        store.load_events(Event(e.source or "", e.line, e.document) for e in events)
        alerted = alerted_event_ids(Detector(load_engine_rules(rules, tuning), store).run())
    shares: dict[str, list[Spooled]] = {name: [] for name in router.sinks}
    for spooled in events:
        event_id = spooled.document.get("event", {}).get("id")
        for name in router.destinations(spooled.document, event_id in alerted):
            shares[name].append(spooled)
    return shares


def _print_shares(shares: dict[str, list[Spooled]], output_format: str) -> None:
    """What each sink would receive: events and JSON bytes, and their share of all events."""
    sizes = {
        id(s.document): len(json.dumps(s.document, ensure_ascii=False).encode())
        for share in shares.values()
        for s in share
    }
    total_events, total_bytes = len(sizes), sum(sizes.values())
    rows: dict[str, dict[str, float]] = {}
    for name, share in shares.items():
        size = sum(sizes[id(s.document)] for s in share)
        rows[name] = {
            "events": len(share),
            "bytes": size,
            "events_pct": round(100 * len(share) / total_events, 1) if total_events else 0.0,
            "bytes_pct": round(100 * size / total_bytes, 1) if total_bytes else 0.0,
        }
    if output_format == "json":
        print_json({"dry_run": True, "events": total_events, "bytes": total_bytes, "sinks": rows})
        return
    console.print(f"{total_events:,} events, {total_bytes:,} bytes routed (dry run):")
    for name, row in rows.items():
        console.print(
            f"  {name}: {row['events']:,.0f} events ({row['events_pct']}%), "
            f"{row['bytes']:,.0f} bytes ({row['bytes_pct']}%)",
            highlight=False,
        )


@click.command("sinks")
@format_option
def sinks_cmd(output_format: str) -> None:
    """List the registered sinks and what --dest means for each."""
    rows = {}
    for name in SINKS.names():
        try:
            rows[name] = SINKS.get(name).destination
        except PluginError as exc:
            rows[name] = f"cannot be loaded: {exc}"
    if output_format == "json":
        print_json(rows)
        return
    for name, destination in rows.items():
        console.print(f"[bold]{name}[/]: {destination}", highlight=False)


@click.group("setup")
def setup_group() -> None:
    """Prepare a SIEM for llmsiem events: index templates, retention, Grafana dashboard."""


def _elasticsearch(url: str | None) -> Any:
    from elasticsearch import Elasticsearch

    return Elasticsearch(
        _env("LLMSIEM_ES_URL", url), api_key=_env("LLMSIEM_ES_API_KEY", None, False)
    )


@contextmanager
def _siem_errors(name: str) -> Iterator[None]:
    """A SIEM that is down, refuses the key or rejects a body: exit 2 with its message."""
    from elasticsearch import ApiError, TransportError
    from elasticsearch.helpers import ScanError

    try:
        yield
    except (ApiError, TransportError, ScanError, requests.RequestException) as exc:
        raise CommandError(f"{name}: {exc}") from exc


@setup_group.command("elastic")
@click.option("--url", help="Elasticsearch URL (default $LLMSIEM_ES_URL).")
@click.option(
    "--retention-days",
    type=click.IntRange(1, 3650),
    default=30,
    show_default=True,
    help="Delete events this many days after their backing index rolls over (e.g. 30, 90).",
)
@click.option("--print", "print_only", is_flag=True, help="Print the bodies, change nothing.")
def setup_elastic(url: str | None, retention_days: int, print_only: bool) -> None:
    """Install the ILM policies and the index templates: logs-llm (data stream, ECS and gen_ai
    types, deleted after --retention-days) and llmsiem-incidents (evidence, never deleted)."""
    from llmsiem.connectors.retention import install_retention, retention_bodies

    if print_only:
        print_json(retention_bodies(retention_days))
        return
    with _siem_errors("elasticsearch"):
        installed = install_retention(_elasticsearch(url), retention_days)
    for line in installed:
        console.print(f"installed {line}", highlight=False)


@setup_group.command("grafana")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for llmsiem-overview.json (import it in Grafana) and a static HTML preview.",
)
def setup_grafana(out: Path) -> None:
    """Write the Grafana dashboard over llmsiem's Prometheus metrics, and its preview."""
    from llmsiem.dashboards.description import load_dashboard
    from llmsiem.dashboards.grafana import grafana_dashboard
    from llmsiem.dashboards.preview import preview_html

    dashboard = grafana_dashboard(load_dashboard())
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{dashboard['uid']}.json"
    target.write_text(json.dumps(dashboard, indent=2) + "\n", encoding="utf-8")
    preview = out / f"{dashboard['uid']}-preview.html"
    preview.write_text(preview_html(dashboard), encoding="utf-8")
    console.print(f"Grafana dashboard → {target}; preview → {preview}", highlight=False)


@click.command("keep-evidence")
@click.argument("alerts", nargs=-1, type=click.Path(path_type=Path))
@click.option("--url", help="Elasticsearch URL (default $LLMSIEM_ES_URL).")
@click.option(
    "--kibana-since",
    metavar="DURATION",
    help="Also read Elastic Security alerts of llmsiem's rules from this long ago (e.g. 24h).",
)
@format_option
def keep_evidence_cmd(
    alerts: tuple[Path, ...], url: str | None, kibana_since: str | None, output_format: str
) -> None:
    """Copy the events that alerts cite into the llmsiem-incidents data stream, which retention
    never deletes: ALERTS files (engine alert JSONL, or exported Elastic Security alerts)
    and, with --kibana-since, Elastic Security alerts searched in Elasticsearch. Running it
    again copies nothing twice."""
    from llmsiem.connectors.retention import keep_evidence, kibana_alerts

    if not alerts and not kibana_since:
        raise CommandError("give alert files, --kibana-since, or both")
    documents: list[dict[str, Any]] = []
    for path in alerts:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CommandError(f"{path}:{number}: not JSON: {exc.msg}") from exc
    client = _elasticsearch(url)
    with _siem_errors("elasticsearch"):
        try:
            documents += kibana_alerts(client, kibana_since) if kibana_since else []
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        kept = keep_evidence(client, documents)
    summary = {
        "cited": kept.cited,
        "copied": kept.copied,
        "already_kept": kept.already_kept,
        "missing": kept.missing,
        "failures": kept.failures,
    }
    if output_format == "json":
        print_json(summary)
    else:
        console.print(
            f"{kept.cited} cited events: {kept.copied} copied to llmsiem-incidents, "
            f"{kept.already_kept} already kept, {kept.missing} not found",
            highlight=False,
        )
        for failure in kept.failures:
            console.print(f"[red]failed[/] {failure}", highlight=False)
    sys.exit(EXIT_FINDINGS if kept.failures or kept.missing else EXIT_OK)


@click.group("deploy")
def deploy_group() -> None:
    """Install the compiled rule pack in Kibana or Splunk."""


@deploy_group.command("elastic")
@click.option("--kibana", help="Kibana URL (default $LLMSIEM_KIBANA_URL).")
@rules_option
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option(
    "--dashboards/--no-dashboards",
    default=True,
    show_default=True,
    help="Also import the overview dashboard's saved objects (/api/saved_objects/_import).",
)
@click.option(
    "--anomaly-jobs",
    is_flag=True,
    help="Also create, open and start the baseline rules' ML anomaly-detection jobs in "
    "Elasticsearch (--es-url; needs a Platinum or trial licence).",
)
@click.option("--es-url", help="Elasticsearch URL for --anomaly-jobs (default $LLMSIEM_ES_URL).")
@format_option
def deploy_elastic(
    kibana: str | None,
    rules: Path | None,
    dry_run: bool,
    dashboards: bool,
    anomaly_jobs: bool,
    es_url: str | None,
    output_format: str,
) -> None:
    """Import the kibana-ndjson build through /api/detection_engine/rules/_import, then the
    dashboard (data views, visualizations, dashboard) through /api/saved_objects/_import;
    with --anomaly-jobs, the baseline rules' anomaly-detection jobs (_ml/anomaly_detectors,
    _ml/datafeeds) in Elasticsearch. An existing job is kept as it is."""
    import tempfile

    from llmsiem.connectors.anomaly_jobs import AnomalyJobDeployer
    from llmsiem.dashboards.description import load_dashboard
    from llmsiem.dashboards.kibana import saved_objects, to_ndjson

    result = compile_pack("kibana-ndjson", rules)
    with tempfile.TemporaryDirectory() as scratch:
        (path,) = write_kibana(result, Path(scratch))
        ndjson = path.read_text(encoding="utf-8")
    deployer = KibanaDeployer(
        _env("LLMSIEM_KIBANA_URL", kibana), _env("LLMSIEM_KIBANA_API_KEY", None, False)
    )
    documents = [json.loads(line) for line in ndjson.splitlines()]
    with _siem_errors("kibana"):
        plan = deployer.plan(documents) if dry_run else deployer.deploy(ndjson)
        if dashboards:
            objects = saved_objects(load_dashboard())
            if dry_run:
                plan.saved_objects = [f"{obj['type']}/{obj['id']}" for obj in objects]
            else:
                deployer.import_saved_objects(to_ndjson(objects), plan)
    if anomaly_jobs:
        jobs = AnomalyJobDeployer(_elasticsearch(es_url))
        with _siem_errors("elasticsearch"):
            (jobs.plan if dry_run else jobs.deploy)(result.anomaly_jobs, plan)
    _report(plan.as_dict(), output_format, dry_run)
    sys.exit(EXIT_FINDINGS if plan.errors else EXIT_OK)


@deploy_group.command("splunk")
@click.option("--url", help="Splunk management URL, https://host:8089 ($LLMSIEM_SPLUNK_URL).")
@click.option("--app", default="llmsiem", show_default=True)
@rules_option
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@format_option
def deploy_splunk(
    url: str | None, app: str, rules: Path | None, dry_run: bool, output_format: str
) -> None:
    """Create or update saved searches; create missing filter macros, keep existing ones."""
    import splunklib.client as splunk_client

    from llmsiem.compiler.backends import filter_macro_name

    result = compile_pack("splunk-savedsearches", rules)
    searches = saved_searches(result)
    macros = {filter_macro_name(c.name or c.rule_id): "search *" for c in result.compiled}
    parsed = urlparse(_env("LLMSIEM_SPLUNK_URL", url))
    service = splunk_client.connect(
        scheme=parsed.scheme or "https",
        host=parsed.hostname,
        port=parsed.port or 8089,
        splunkToken=_env("LLMSIEM_SPLUNK_TOKEN", None),
        app=app,
        owner="nobody",
        autologin=True,
    )
    deployer = SplunkDeployer(service)
    plan = deployer.plan(searches, macros) if dry_run else deployer.deploy(searches, macros)
    _report(plan.as_dict(), output_format, dry_run)
    sys.exit(EXIT_FINDINGS if plan.errors else EXIT_OK)


def _report(plan: dict[str, list[str]], output_format: str, dry_run: bool) -> None:
    if output_format == "json":
        print_json({"dry_run": dry_run, **plan})
        return
    verb = "would" if dry_run else "did"
    for action, items in plan.items():
        if items:
            console.print(f"[bold]{verb} {action}[/] ({len(items)}): " + ", ".join(items[:8]))
