"""``llmsiem collect``: receive OTLP/HTTP and LiteLLM logs, detect, ship, respond (dry-run)."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import ssl
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llmsiem.cli.common import (
    CommandError,
    dead_letter_option,
    err_console,
    load_engine_rules,
    make_pipeline,
    rules_option,
    scrub_option,
    tuning_option,
)

if TYPE_CHECKING:
    from llmsiem.collect.fanout import SinkFanout
    from llmsiem.collect.routed import RoutedFanout
    from llmsiem.deadletter import DeadLetter
    from llmsiem.rulepack import RuleSources

TOKEN_ENV = "LLMSIEM_COLLECT_TOKEN"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(f"--token-file: {exc.strerror}: {token_file}") from exc
    return os.environ.get(TOKEN_ENV, "").strip()


def _fanout(specs: tuple[str, ...], letters: DeadLetter) -> SinkFanout | None:
    from llmsiem.collect.fanout import SinkFanout
    from llmsiem.connectors.registry import SINKS
    from llmsiem.connectors.sink import SinkConfigError
    from llmsiem.plugins import PluginError

    if not specs:
        return None
    sinks = {}
    for spec in specs:
        name, _, dest = spec.partition("=")
        try:
            sinks[spec] = SINKS.get(name).create(dest or None, letters)
        except (SinkConfigError, PluginError) as exc:
            raise CommandError(f"--to {spec}: {exc}") from exc
    return SinkFanout(sinks)


def _routed_fanout(path: Path, letters: DeadLetter) -> RoutedFanout:
    """The sinks of a routes file, each fed only its routes' share of every batch."""
    from llmsiem.collect.routed import RoutedFanout
    from llmsiem.connectors.registry import SINKS
    from llmsiem.connectors.sink import SinkConfigError
    from llmsiem.pipeline.routing import RoutesError, load_routes
    from llmsiem.plugins import PluginError

    try:
        router = load_routes(path, SINKS.names())
    except RoutesError as exc:
        raise CommandError(str(exc)) from exc
    sinks = {}
    for name, spec in router.sinks.items():
        try:
            sinks[name] = SINKS.get(spec.type).create(spec.dest, letters)
        except (SinkConfigError, PluginError) as exc:
            raise CommandError(f"{path}: sinks.{name}: {exc}") from exc
    return RoutedFanout(sinks, router)


@click.command("collect")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=4318, show_default=True, help="Port (OTLP/HTTP's is 4318).")
@click.option(
    "--to",
    "sinks",
    multiple=True,
    metavar="SINK[=DEST]",
    help="Send every event to this registered sink (`llmsiem sinks`); repeatable.",
)
@click.option(
    "--routes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Routes file instead of --to: which events go to which sink "
    "(connectors/routes.example.yml); alert routes apply when the alert fires.",
)
@click.option("--detect/--no-detect", default=True, show_default=True, help="Run the rule pack.")
@rules_option
@tuning_option
@click.option(
    "--alerts",
    "alerts_path",
    default="llmsiem-alerts.jsonl",
    show_default=True,
    help="Append alerts (ECS JSON lines) here; '-' for stdout.",
)
@click.option(
    "--respond/--no-respond",
    default=True,
    show_default=True,
    help="Hand each alert to the response runner (a dry run unless --execute).",
)
@click.option("--execute", is_flag=True, help="Let the runner act (needs LLMSIEM_AUDIT_KEY).")
@click.option(
    "--respond-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Runner configuration (respond.yml).",
)
@scrub_option
@dead_letter_option
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Bearer token senders must present (default: ${TOKEN_ENV}).",
)
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Server certificate."
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Its private key.")
@click.option(
    "--tls-client-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="CA of client certificates: mTLS, every client must present one it signed.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Accept unauthenticated requests (only when bound to a loopback address).",
)
@click.option(
    "--max-body-bytes",
    default=8 * 1024 * 1024,
    show_default=True,
    help="Larger bodies (also once decompressed) get 413.",
)
@click.option(
    "--max-queued",
    default=100_000,
    show_default=True,
    help="Records (spans, log records, payloads) waiting at most; then 503 + Retry-After.",
)
@click.option("--batch", "max_batch", default=4096, show_default=True, help="Records per batch.")
def collect_cmd(
    host: str,
    port: int,
    sinks: tuple[str, ...],
    routes: Path | None,
    detect: bool,
    rules: RuleSources | None,
    tuning: Path | None,
    alerts_path: str,
    respond: bool,
    execute: bool,
    respond_config: Path | None,
    scrub_mode: str,
    dead_letter: Path,
    token_file: Path | None,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    no_auth: bool,
    max_body_bytes: int,
    max_queued: int,
    max_batch: int,
) -> None:
    """Receive telemetry over HTTP: OTLP traces and logs, LiteLLM's generic API logger.

    Routes: POST /v1/traces and /v1/logs (OTLP/HTTP, protobuf or JSON), POST /v1/litellm
    (a LiteLLM callback with `callback_type: generic_api` and its endpoint here), GET
    /metrics (Prometheus). Every request passes the one pipeline (normalize, scrub,
    validate), reaches every --to sink, and the rule pack; alerts go to --alerts and to
    the response runner (a dry run unless --execute). Senders authenticate with a bearer
    token ($LLMSIEM_COLLECT_TOKEN or --token-file) or a client certificate (--tls-client-ca).
    """
    import uvicorn

    from llmsiem.collect.server import Settings, create_app
    from llmsiem.collect.worker import Collector, TallyingDeadLetter
    from llmsiem.metrics import MeteredPipeline, Metrics

    token = _token(token_file)
    if tls_client_ca and not (tls_cert and tls_key):
        raise CommandError("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
    if not (token or tls_client_ca or no_auth):
        raise CommandError(
            f"set a bearer token (${TOKEN_ENV} or --token-file) or mTLS (--tls-client-ca); "
            "--no-auth only on a loopback address"
        )
    if no_auth and not (token or tls_client_ca) and not _is_loopback(host):
        raise CommandError(f"--no-auth on {host}: unauthenticated receivers bind loopback only")
    if sinks and routes:
        raise CommandError("give --to SINK or --routes FILE, not both")
    metrics = Metrics()
    letters = TallyingDeadLetter(dead_letter, metrics)
    pipeline = MeteredPipeline.around(make_pipeline(scrub_mode, letters), metrics)
    routed = _routed_fanout(routes, letters) if routes else None
    if (
        routed is not None
        and routed.router is not None
        and routed.router.uses_alerts
        and not detect
    ):
        raise CommandError(f"{routes}: a route tests `alerted`, which needs --detect")
    collector = Collector(
        pipeline,
        letters,
        metrics,
        fanout=routed or _fanout(sinks, letters),
        max_queued=max_queued,
        max_batch=max_batch,
    )
    if detect:
        from llmsiem.engine.stream import Follower

        collector.attach_engine(
            Follower(load_engine_rules(rules, tuning), pipeline, collector.emit)
        )
        collector.alert_handlers.append(_alert_writer(alerts_path))
        if routed is not None:
            collector.alert_handlers.append(collector.sending(routed.on_alert))
        if respond:
            from llmsiem.cli.respond_cmd import make_runner

            runner = make_runner(respond_config, execute)
            collector.alert_handlers.append(runner.handle)
    app = create_app(collector, Settings(token=token, max_body_bytes=max_body_bytes))
    scheme = "https" if tls_cert else "http"
    auth = "mTLS" if tls_client_ca else "bearer token" if token else "NO AUTHENTICATION"
    err_console.print(
        f"collect on {scheme}://{host}:{port} (/v1/traces, /v1/logs, /v1/litellm, /metrics; "
        f"{auth}; sinks: {', '.join(routed.sinks if routed else sinks) or 'none'})"
    )
    # uvicorn re-raises SIGINT/SIGTERM once its graceful shutdown (collector drained) is
    # done; these handlers take that re-raise, so a drained stop exits 0.
    stopped: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _frame: stopped.append(received))
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        ssl_ca_certs=tls_client_ca,
        ssl_cert_reqs=ssl.CERT_REQUIRED if tls_client_ca else ssl.CERT_NONE,
    )
    if stopped:
        err_console.print(f"collect stopped on {signal.Signals(stopped[0]).name}; queue drained")


def _alert_writer(path: str) -> Callable[[dict[str, Any]], None]:
    """Appends each alert as one JSON line, flushed (the file stays open while collect runs)."""
    stream = sys.stdout if path == "-" else Path(path).open("a", encoding="utf-8")  # noqa: SIM115
    lock = threading.Lock()

    def write(alert: dict[str, Any]) -> None:
        with lock:
            stream.write(json.dumps(alert, ensure_ascii=False) + "\n")
            stream.flush()

    return write
