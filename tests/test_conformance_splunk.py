"""Splunk targets give the engine's verdicts: SPL evaluated with real PCRE2 and the documented
search-language rules (llmsiem.conformance.spl), on the conformance corpus."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sigma.correlations import SigmaCorrelationRule

from conformance_helpers import assert_every_rule_agrees
from llmsiem.baseline_spec import is_baseline
from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.output import write_result
from llmsiem.conformance import spl
from llmsiem.conformance.corpus import CorrelationCase, SampleCorpus
from llmsiem.conformance.verdicts import Verdicts, engine_verdicts
from llmsiem.rule_samples import build_event
from llmsiem.rulepack import RulePack

TEXT = "llmsiem.prompt.text"


def _pack_correlations() -> int:
    """Every correlation of the pack compiles for Splunk (none is skipped), per-entity
    baselines (``llmsiem_baseline``) included."""
    correlations = [
        r for _, r in RulePack.load().parse_all() if isinstance(r, SigmaCorrelationRule)
    ]
    assert sum(map(is_baseline, correlations)) >= 2
    return len(correlations)


def test_splunk_spl_agrees_with_engine(
    conformance_corpus: SampleCorpus, engine_reference: Verdicts
) -> None:
    result = compile_pack("splunk-spl")
    assert sum(c.kind == "correlation" for c in result.compiled) == _pack_correlations()
    rules = [str(c.name) for c in result.compiled]
    observed = spl.spl_verdicts(result, conformance_corpus)
    assert_every_rule_agrees("splunk-spl", engine_reference, observed, rules)


def test_splunk_app_agrees_with_engine(
    conformance_corpus: SampleCorpus, engine_reference: Verdicts, tmp_path: Path
) -> None:
    """The written app, read back as Splunk reads savedsearches.conf and macros.conf."""
    result = compile_pack("splunk-savedsearches")
    assert sum(c.kind == "correlation" for c in result.compiled) == _pack_correlations()
    write_result(result, tmp_path)
    app = tmp_path / "splunk-savedsearches" / "llmsiem"
    observed = spl.app_verdicts(app, result, conformance_corpus)
    rules = [str(c.name) for c in result.compiled]
    assert_every_rule_agrees("splunk-savedsearches", engine_reference, observed, rules)


def _corpus(*cases: list[dict[str, Any]], label: str = "probe") -> SampleCorpus:
    corpus = SampleCorpus()
    for n, partials in enumerate(cases):
        for sequence, partial in enumerate(partials):
            corpus.events.append(build_event(partial, sequence, f"{label}{n}"))
    return corpus


def test_regex_newline_survives_savedsearches_continuation(tmp_path: Path) -> None:
    """A uuencoded line after the first line: the rule regex ``(^|\\n)M...`` must still see
    the line break once the search is split over savedsearches.conf continuation lines."""
    line = "M" + "#!,%" * 15  # uuencode-like: no other alternative of the rule matches it
    corpus = _corpus([{"llmsiem.prompt.text": f"decode this please\n{line}\nend"}])
    engine = engine_verdicts(corpus)
    assert engine.detections["encoded_obfuscated_payload"]
    result = compile_pack("splunk-savedsearches")
    write_result(result, tmp_path)
    observed = spl.app_verdicts(tmp_path / "splunk-savedsearches" / "llmsiem", result, corpus)
    assert (
        observed.detections["encoded_obfuscated_payload"]
        == (engine.detections["encoded_obfuscated_payload"])
    )


def test_correlations_slide_instead_of_bucketing() -> None:
    """Five refusals across a 10-minute bucket boundary still fire, as in the engine."""
    burst = [
        {
            "event.action": "refusal",
            "llmsiem.response.refusal": True,
            "user.id": "u-edge",
            "@timestamp": f"2026-11-20T12:{minute:02d}:{second:02d}+00:00",
        }
        for minute, second in ((8, 0), (9, 0), (9, 30), (10, 30), (11, 0))
    ]
    corpus = _corpus(burst)
    corpus.correlation_cases.append(
        CorrelationCase("correlation_refusal_burst", "edge", True, corpus.events)
    )
    engine = engine_verdicts(corpus)
    assert engine.correlations["correlation_refusal_burst", "edge"]
    observed = spl.spl_verdicts(compile_pack("splunk-spl"), corpus)
    assert observed.correlations["correlation_refusal_burst", "edge"]


def _run(query: str, *documents: dict[str, Any], macros: dict[str, str] | None = None) -> int:
    events = [spl.splunk_event(build_event(d, n, "unit")) for n, d in enumerate(documents)]
    return len(spl.parse_search(query, macros).run(events))


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ('llmsiem.prompt.text="*ignore ALL*"', "Please Ignore all rules", 1),
        ('llmsiem.prompt.text IN ("*x*", "*ignore*")', "IGNORE", 1),
        ('llmsiem.prompt.text="ignore"', "ignore me", 0),
        ('LLMSIEM.prompt.text="*ignore*"', "ignore", 0),
        ('| regex llmsiem.prompt.text="Ignore"', "ignore", 0),
        ('| regex llmsiem.prompt.text="(?i)Ignore"', "ignore", 1),
        ('| regex llmsiem.prompt.text="b$"', "ab\n", 1),
        ('| regex llmsiem.prompt.text="b\\\\z"', "ab\n", 0),
        ('| regex llmsiem.prompt.text!="x"', "ab", 1),
        ('| regex llmsiem.prompt.text="a\\\\\\\\b"', "a\\b", 1),
        ("| where match('llmsiem.prompt.text', \"^A\")", "ab", 0),
        (f"{TEXT}=*a* OR {TEXT}=*z* NOT {TEXT}=*b*", "ab", 0),
        (f"{TEXT}=*z* {TEXT}=*a* OR {TEXT}=*b*", "ab", 0),
        ("llmsiem.prompt.chars>=10", "abc", 0),
        ("llmsiem.prompt.chars IN (2, 3)", "abc", 1),
        ("llmsiem.prompt.text=* NOT gen_ai.tool.name=*", "abc", 1),
    ],
)
def test_search_language_rules(query: str, text: str, expected: int) -> None:
    """Search values are case-insensitive, field names and regexes are not; NOT, OR, AND."""
    document = {"llmsiem.prompt.text": text, "llmsiem.prompt.chars": len(text)}
    if query.startswith("|"):
        query = "index=llm " + query
    assert _run(query, document) == expected


def test_rex_eval_and_macros() -> None:
    query = (
        'index=llm\n| rex field=llmsiem.prompt.text "(?<m>[0-9]{3})"\n'
        '| eval c=if(isnotnull(m), "true", "false")\n| search c="TRUE"\n| `tune`'
    )
    assert _run(query, {"llmsiem.prompt.text": "id 123"}, macros={"tune": "search *"}) == 1
    assert _run(query, {"llmsiem.prompt.text": "id 12"}, macros={"tune": "search *"}) == 0
    with pytest.raises(spl.SplError, match="undefined macro"):
        _run(query, {"llmsiem.prompt.text": "x"})


def test_outside_the_subset_is_an_error() -> None:
    for query in (
        "index=llm | stats count",
        "index=llm | stats median(x) as m by g",
        "index=llm | streamstats current=f window=3 avg(x) as m by g",
        "index=llm | streamstats window=3 time_window=1m count as n",
        "index=llm | bin x span=1m",
        "| rex field=x y",
        'index=llm "bare phrase"',
    ):
        with pytest.raises(spl.SplError):
            spl.parse_search(query)


def _rows(query: str, *documents: dict[str, Any]) -> list[dict[str, list[str]]]:
    events = [spl.splunk_event(build_event(d, n, "unit")) for n, d in enumerate(documents)]
    return spl.parse_search(query).run(events)


def test_bin_and_stats_make_one_row_per_bucket_and_group() -> None:
    """Buckets are floor(_time / span) x span; rows without a by-field are dropped."""
    stamps = ["12:00:59.900", "12:00:00", "12:01:00", "12:01:30"]
    documents = [
        {
            "@timestamp": f"2026-11-20T{t}+00:00",
            "gen_ai.agent.id": u,
            "llmsiem.usage.total_tokens": n,
        }
        for t, u, n in zip(stamps, ["a", "a", "a", "b"], [5, 7, 11, 13], strict=True)
    ]
    documents.append({"@timestamp": "2026-11-20T12:00:10+00:00", "llmsiem.usage.total_tokens": 1})
    rows = _rows(
        "index=llm | bin _time span=1m | stats count as n, sum(llmsiem.usage.total_tokens) "
        "as t by _time gen_ai.agent.id",
        *documents,
    )
    minute = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
    assert [
        (float(r["_time"][0]) - minute, r["gen_ai.agent.id"], r["n"], r["t"]) for r in rows
    ] == [
        (0.0, ["a"], ["2"], ["12"]),
        (60.0, ["a"], ["1"], ["11"]),
        (60.0, ["b"], ["1"], ["13"]),
    ]


def test_streamstats_window_of_previous_results_per_group() -> None:
    """current=f window=2 global=f: each group's two previous results, itself left out."""
    values = [("a", 2), ("b", 100), ("a", 4), ("a", 9), ("a", 1)]
    documents = [
        {
            "@timestamp": f"2026-11-20T12:00:0{n}+00:00",
            "user.id": u,
            "llmsiem.usage.total_tokens": x,
        }
        for n, (u, x) in enumerate(values)
    ]
    query = (
        "index=llm | sort 0 _time | streamstats current=f window=2 global=f count as n, "
        "avg(llmsiem.usage.total_tokens) as m, stdev(llmsiem.usage.total_tokens) as sd "
        "by user.id | eval k=m + 2 * max(sd, 0.5 * abs(0 - m)), "
        "c=coalesce(sd, 99)"
    )
    got = [
        tuple(float(r[f][0]) if f in r else None for f in ("n", "m", "sd", "k", "c"))
        for r in _rows(query, *documents)
    ]
    root2 = math.sqrt(2)  # sample stdev of (2, 4); of (4, 9) it is 5 / sqrt(2)
    assert got == [
        (0, None, None, None, 99),
        (0, None, None, None, 99),
        (1, 2, None, None, 99),
        (2, 3, pytest.approx(root2), 3 + 2 * 1.5, pytest.approx(root2)),
        (
            2,
            6.5,
            pytest.approx(5 / root2),
            pytest.approx(6.5 + 10 / root2),
            pytest.approx(5 / root2),
        ),
    ]


def test_conf_continuation_keeps_line_breaks() -> None:
    conf = "# c\n[a b]\nsearch = x \\\n| y \\\n| z\nother = 1\n"
    assert spl.read_conf(conf)["a b"] == {"search": "x \n| y \n| z", "other": "1"}


def case_insensitive_model_cases() -> SampleCorpus:
    """Four models for one user written in mixed case (fires), and four spellings of two
    models (does not): the engine groups and counts values case-insensitively."""
    users = ["Alice", "alice", "ALICE", "alIce"]
    corpus = SampleCorpus()
    for label, models in (("four", ["m1", "m2", "m3", "m4"]), ("two", ["M1", "m1", "M2", "m2"])):
        events = [
            build_event(
                {"event.action": "response", "user.id": user, "gen_ai.request.model": model},
                n,
                label,
            )
            for n, (user, model) in enumerate(zip(users, models, strict=True))
        ]
        corpus.events += events
        corpus.correlation_cases.append(
            CorrelationCase("correlation_many_models_per_user", label, label == "four", events)
        )
    return corpus


def test_correlation_groups_and_values_ignore_case() -> None:
    corpus = case_insensitive_model_cases()
    engine = engine_verdicts(corpus)
    assert engine.correlations == {
        ("correlation_many_models_per_user", "four"): True,
        ("correlation_many_models_per_user", "two"): False,
    }
    observed = spl.spl_verdicts(compile_pack("splunk-spl"), corpus)
    for key, fired in engine.correlations.items():
        assert observed.correlations[key] == fired, key


ESCAPES_RULE = r"""
title: Escaping probe
id: 7b0d1c1e-0000-4000-8000-000000000001
logsource:
    product: llm
detection:
    plain:
        llmsiem.prompt.text|contains: 'C:\Win "x"'
    regex:
        llmsiem.prompt.text|re: 'id "\d+"\\$'
    condition: plain or regex
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('path c:\\win "X" here', 1),
        ("path C:\\Win x here", 0),
        ('the id "42"\\', 1),
        ('the id "42"\\\n', 0),
        ('the id "4a"\\', 0),
    ],
)
def test_backslashes_and_quotes_survive_spl_quoting(text: str, expected: int) -> None:
    """Sigma values and regexes with backslashes and quotes mean the same after SPL quoting."""
    from sigma.collection import SigmaCollection

    from llmsiem.compiler.backends import SigmaSplunkBackend
    from llmsiem.compiler.compile import load_pipeline

    backend = SigmaSplunkBackend(load_pipeline(("tuning.yml", "splunk.yml")))
    (query,) = backend.convert(SigmaCollection.from_yaml(ESCAPES_RULE))
    assert _run(query, {"llmsiem.prompt.text": text}) == expected


TEMPORAL_RULES = {
    "probe_alpha.yml": """
title: Probe Alpha
id: 7b0d1c1e-0000-4000-8000-0000000000a1
name: probe_alpha
status: experimental
logsource: {product: llm}
detection:
    selection: {llmsiem.prompt.text|contains: alpha}
    condition: selection
level: low
""",
    "probe_beta.yml": """
title: Probe Beta
id: 7b0d1c1e-0000-4000-8000-0000000000b2
name: probe_beta
status: experimental
logsource: {product: llm}
detection:
    selection: {llmsiem.prompt.text|contains: beta}
    condition: selection
level: low
""",
    "probe_temporal.yml": """
title: Probe Temporal
id: 7b0d1c1e-0000-4000-8000-0000000000c3
name: probe_temporal
status: experimental
correlation:
    type: temporal
    rules: [probe_alpha, probe_beta]
    group-by: [user.id]
    timespan: 1m
level: low
""",
}


def test_unordered_temporal_slides_in_either_order(tmp_path: Path) -> None:
    """temporal (no rule of the pack uses it yet) also slides: both rules within the
    timespan, in either order, across a minute boundary; not when 70 s apart."""
    for name, text in TEMPORAL_RULES.items():
        (tmp_path / name).write_text(text)
    pack = RulePack.load(tmp_path)
    corpus = SampleCorpus()
    cases = {
        "beta-then-alpha": [("beta", "12:00:50"), ("alpha", "12:01:10")],
        "alpha-then-beta": [("alpha", "12:00:05"), ("beta", "12:00:40")],
        "too-far": [("alpha", "12:00:00"), ("beta", "12:01:10")],
    }
    for label, steps in cases.items():
        events = [
            build_event(
                {"llmsiem.prompt.text": word, "@timestamp": f"2026-11-20T{time}+00:00"}, n, label
            )
            for n, (word, time) in enumerate(steps)
        ]
        corpus.events += events
        corpus.correlation_cases.append(
            CorrelationCase("probe_temporal", label, label != "too-far", events)
        )
    engine = engine_verdicts(corpus, pack)
    assert [engine.correlations["probe_temporal", label] for label in cases] == [True, True, False]
    observed = spl.spl_verdicts(compile_pack("splunk-spl", tmp_path), corpus)
    assert observed.correlations == engine.correlations
