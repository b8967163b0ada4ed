"""``llmsiem verify elastic|splunk``: do the deployed queries give the engine's verdicts?"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
from rich.markup import escape
from rich.table import Table

from llmsiem.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    console,
    err_console,
    format_option,
    load_pack,
    print_json,
    rules_option,
)
from llmsiem.cli.connectors_cmd import _env  # one reader of credentials from the environment
from llmsiem.rulepack import RuleSources

samples_option = click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with one <rule name>/samples.yml per rule, for rules without a "
    "<rule>.samples.yml beside them (the bundled rules carry theirs).",
)
index_option = click.option(
    "--index",
    default=None,
    help="Scratch index to create and delete (default: llmsiem-verify-<random>).",
)
variants_option = click.option(
    "--variants/--no-variants",
    default=True,
    show_default=True,
    help="Also run case, position and multi-line variants of every true positive.",
)


@click.group("verify")
def verify_group() -> None:
    """Run every rule's samples through the queries in a live SIEM; compare with the engine.

    The samples go to a scratch index that is deleted afterwards. Exit code 0 when every
    rule agrees with the embedded engine, 1 on any disagreement or rejected query, 2 when
    the SIEM cannot be reached or refuses the credentials.
    """


def _scratch(index: str | None) -> str:
    return index or f"llmsiem-verify-{secrets.token_hex(4)}"


@verify_group.command("elastic")
@click.option("--url", help="Elasticsearch URL (default $LLMSIEM_ES_URL).")
@rules_option
@samples_option
@index_option
@variants_option
@format_option
def verify_elastic(
    url: str | None,
    rules: RuleSources | None,
    samples: Path | None,
    index: str | None,
    variants: bool,
    output_format: str,
) -> None:
    """Kibana rules (Lucene, EQL, ES|QL) on Elasticsearch; API key from $LLMSIEM_ES_API_KEY."""
    from elasticsearch import Elasticsearch

    from llmsiem.connectors.verify import ElasticVerifier, kibana_queries

    client = Elasticsearch(
        _env("LLMSIEM_ES_URL", url),
        api_key=_env("LLMSIEM_ES_API_KEY", None, False),
        max_retries=1,
        request_timeout=60,
    )
    verifier = ElasticVerifier(client, _scratch(index))
    _run(
        "kibana-ndjson",
        "elasticsearch",
        kibana_queries,
        verifier,
        rules,
        samples,
        variants,
        output_format,
    )


@verify_group.command("splunk")
@click.option("--url", help="Splunk management URL, https://host:8089 ($LLMSIEM_SPLUNK_URL).")
@rules_option
@samples_option
@index_option
@variants_option
@format_option
def verify_splunk(
    url: str | None,
    rules: RuleSources | None,
    samples: Path | None,
    index: str | None,
    variants: bool,
    output_format: str,
) -> None:
    """SPL searches on Splunk (oneshot); token from $LLMSIEM_SPLUNK_TOKEN."""
    import splunklib.client as splunk_client

    from llmsiem.connectors.verify import SplunkVerifier, splunk_queries

    parsed = urlparse(_env("LLMSIEM_SPLUNK_URL", url))
    with _siem_errors("splunk"):
        service = splunk_client.connect(
            scheme=parsed.scheme or "https",
            host=parsed.hostname,
            port=parsed.port or 8089,
            splunkToken=_env("LLMSIEM_SPLUNK_TOKEN", None),
            autologin=True,
        )
    verifier = SplunkVerifier(service, _scratch(index))
    _run("splunk-spl", "splunk", splunk_queries, verifier, rules, samples, variants, output_format)


@contextmanager
def _siem_errors(siem: str) -> Iterator[None]:
    """Connection and authentication failures as a usage error (exit 2), no traceback."""
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException
    from elasticsearch import ConnectionError as EsConnectionError
    from splunklib.binding import AuthenticationError, HTTPError

    try:
        yield
    except (AuthenticationException, AuthorizationException) as exc:
        raise CommandError(f"{siem}: credentials refused ({exc.meta.status})") from exc
    except HTTPError as exc:
        if exc.status in (401, 403):
            raise CommandError(f"{siem}: credentials refused ({exc.status})") from exc
        raise CommandError(f"{siem}: {exc.status} {exc.reason}") from exc
    except AuthenticationError as exc:
        raise CommandError(f"{siem}: credentials refused") from exc
    except (EsConnectionError, OSError) as exc:
        raise CommandError(f"{siem}: cannot connect: {exc}") from exc
    except ApiError as exc:
        raise CommandError(f"{siem}: {exc.meta.status} {exc.message}") from exc
    except RuntimeError as exc:
        raise CommandError(f"{siem}: {exc}") from exc


def _run(
    target: str,
    siem: str,
    deployed: Callable[[Any], list[Any]],
    verifier: Any,
    rules: RuleSources | None,
    samples: Path | None,
    variants: bool,
    output_format: str,
) -> None:
    from llmsiem.compiler.compile import PackCompiler
    from llmsiem.compiler.targets import TARGETS
    from llmsiem.conformance.corpus import build_corpus
    from llmsiem.conformance.verdicts import compare, engine_verdicts
    from llmsiem.rule_samples import SampleError
    from llmsiem.rulepack import RuleLoadError

    pack = load_pack(rules)
    try:
        queries = deployed(PackCompiler(pack, TARGETS[target]).compile())
        corpus = build_corpus(pack, samples, with_variants=variants)
        engine = engine_verdicts(corpus, pack)
    except (RuleLoadError, SampleError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    with _siem_errors(siem):
        try:
            verifier.load(corpus)
            observed = verifier.verdicts(queries, corpus)
        finally:
            _delete_quietly(verifier)
    names = list(dict.fromkeys(query.rule for query in queries))
    report = compare(f"{target}@{siem}", engine, observed, names)
    languages = {query.rule: query.language for query in queries}
    if output_format == "json":
        print_json(
            {
                "target": report.target,
                "index": verifier.index,
                "events": len(corpus.events),
                "summary": report.summary_line(),
                "rules": [
                    {
                        "rule": r.rule,
                        "language": languages[r.rule],
                        "agrees": r.agrees,
                        "missed": r.missed,
                        "extra": r.extra,
                        "error": r.error,
                    }
                    for r in report.rules
                ],
            }
        )
    else:
        table = Table(title=f"{report.target}: {len(corpus.events)} sample events")
        for column in ("rule", "language", "verdict", "engine only", "SIEM only"):
            table.add_column(column, overflow="fold")
        for r in report.rules:
            verdict = "[green]agree" if r.agrees else "[red]error" if r.error else "[red]differ"
            table.add_row(
                r.rule,
                languages[r.rule],
                verdict,
                escape(r.error or ", ".join(r.missed[:3])),
                escape(", ".join(r.extra[:3])),
            )
        console.print(table)
        console.print(report.summary_line(), highlight=False)
    sys.exit(EXIT_FINDINGS if report.disagreements else EXIT_OK)


def _delete_quietly(verifier: Any) -> None:
    """Delete the scratch index; a failure here must not hide the run's own error."""
    try:
        verifier.delete()
    except Exception as exc:  # reported, never raised
        err_console.print(
            f"[yellow]could not delete scratch index {verifier.index}: {escape(str(exc))}[/]"
        )
