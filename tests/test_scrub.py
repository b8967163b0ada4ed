"""Scrubbing: no generated secret of a supported type survives; modes; typed markers."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_path
from engine_helpers import compile_texts, fired, run_events
from llmsiem.rule_samples import build_event
from llmsiem.scrub import Scrubber

UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def _luhn_complete(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return digits + str((10 - total % 10) % 10)


aws_keys = st.text(UPPER_DIGITS, min_size=16, max_size=16).map(lambda s: "AKIA" + s)
github = st.text(ALNUM, min_size=36, max_size=36).map(lambda s: "ghp_" + s)
openai = st.text(ALNUM + "_-", min_size=40, max_size=60).map(lambda s: "sk-proj-" + s)
anthropic = st.text(ALNUM, min_size=40, max_size=60).map(lambda s: "sk-ant-api03-" + s)
slack = st.tuples(
    st.text(string.digits, min_size=10, max_size=12),
    st.text(string.ascii_lowercase + string.digits, min_size=20, max_size=24),
).map(lambda p: f"xoxb-{p[0]}-{p[1]}")
stripe = st.text(ALNUM, min_size=24, max_size=24).map(lambda s: "sk_live_" + s)
google = st.text(ALNUM + "_-", min_size=35, max_size=35).map(lambda s: "AIza" + s)
cards = st.sampled_from(["4", "51", "37", "6011"]).flatmap(
    lambda prefix: st.text(string.digits, min_size=15 - len(prefix), max_size=15 - len(prefix)).map(
        lambda rest: _luhn_complete(prefix + rest)
    )
)
pem = st.text(ALNUM + "+/", min_size=40, max_size=120).map(
    lambda body: f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
)
secrets = st.one_of(aws_keys, github, openai, anthropic, slack, stripe, google, cards, pem)
prose = st.text(string.ascii_letters + " ,.?!", max_size=40)
SCRUBBER = Scrubber()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=prose, secret=secrets, after=prose)
def test_no_generated_secret_survives_scrubbing(before: str, secret: str, after: str) -> None:
    text = f"{before} {secret} {after}"
    result = SCRUBBER.scrub_text(text)
    assert secret not in result.text
    assert "[REDACTED:" in result.text
    assert result.types


def test_markers_are_typed_and_modes_differ() -> None:
    text = "key AKIAQWERTYUIOPASDFGH mail bob@example.com"
    redacted = Scrubber("redact").scrub_text(text)
    assert redacted.text == "key [REDACTED:AWS_KEY] mail [REDACTED:EMAIL_ADDRESS]"
    hashed_a = Scrubber("hash", hmac_key=b"k").scrub_text(text).text
    hashed_b = Scrubber("hash", hmac_key=b"k").scrub_text(text).text
    assert hashed_a == hashed_b and "[REDACTED:AWS_KEY:" in hashed_a
    assert "AKIAQWERTYUIOPASDFGH" not in hashed_a
    kept = Scrubber("keep").scrub_text(text)
    assert kept.text == text and kept.types == ["AWS_KEY", "EMAIL_ADDRESS"]


def test_benign_text_is_untouched() -> None:
    text = "Summarise release 2.3.1 notes; fetch http://169.254.169.254/ status for ticket 4411."
    assert SCRUBBER.scrub_text(text).text == text


def test_document_records_types_so_rules_still_fire(tmp_path: Path) -> None:
    document = build_event(
        {"event.action": "prompt", "llmsiem.prompt.text": "why does AKIAQWERTYUIOPASDFGH fail"},
        0,
        "scrub",
    )
    scrubbed = Scrubber().scrub_document(document)
    assert scrubbed["llmsiem"]["redaction"] == {"mode": "redact", "types": ["AWS_KEY"], "count": 1}
    rules = compile_texts(
        tmp_path,
        (
            Path(__file__).parents[1] / "rules" / "prompt" / "secret_redacted_in_prompt.yml"
        ).read_text(),
    )
    assert fired(run_events(rules, [scrubbed]), "secret_redacted_in_prompt")


def test_detect_secrets_corpus_files_lose_their_secrets() -> None:
    root = shared_path("corpora", "dev", "detect_secrets", "test_data")
    text = (root / "each_secret.py").read_text()
    result = SCRUBBER.scrub_text(text)
    assert len(result.types) >= 5
    for known in ("AKIAZZZZZZZZZZZZZZZZ", "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"):
        if known in text:
            assert known not in result.text


uncommon_cards = st.tuples(
    st.sampled_from(["2221", "2720", "2131", "2200", "6304", "5018"]),
    st.integers(min_value=12, max_value=19),
).flatmap(
    lambda p: st.text(string.digits, min_size=p[1] - 5, max_size=p[1] - 5).map(
        lambda rest: _luhn_complete(p[0] + rest)
    )
)


@settings(max_examples=200, deadline=None)
@given(number=uncommon_cards, word=st.sampled_from(["card", "Credit card #", "my cc", "Maestro"]))
def test_uncommon_card_numbers_are_scrubbed_after_a_card_word_and_2_series_without(
    number: str, word: str
) -> None:
    with_word = SCRUBBER.scrub_text(f"{word} {number} was declined")
    assert number not in with_word.text and with_word.types == ["CREDIT_CARD"]
    without_word = SCRUBBER.scrub_text(f"order {number} was shipped")
    if number[:4] in ("2221", "2720") and len(number) == 16:  # Mastercard 2-series
        assert without_word.types == ["CREDIT_CARD"]
    elif number[:4] == "2131" or len(number) == 12:  # no brand: the card word is needed
        assert without_word.text == f"order {number} was shipped"
