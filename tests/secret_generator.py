"""An independent generator of secrets, personal data and benign look-alikes for scrub tests.

Formats follow the vendors' own descriptions of their keys (prefix, length, alphabet,
checksums), written from scratch here: nothing is derived from the scrubber's patterns, so
the scrubber is tested against this oracle and not against itself. Each :class:`Sample`
knows the substrings that must not survive scrubbing (``needles``) and the text to embed.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = UPPER + LOWER + DIGITS
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = UPPER + "234567"


@dataclass(frozen=True)
class Sample:
    """One generated secret: the text to embed and the parts that must not survive."""

    kind: str
    text: str
    needles: tuple[str, ...]
    pii: bool = False


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + _pick(rng, DIGITS, length - len(prefix) - 1)
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:  # the check digit will sit to the right, so these are doubled
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return body + str((10 - total % 10) % 10)


def _group(number: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, cursor = [], 0
    for size in sizes:
        parts.append(number[cursor : cursor + size])
        cursor += size
    if cursor < len(number):
        parts.append(number[cursor:])
    return sep.join(p for p in parts if p)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _aws_key_id(rng: random.Random) -> Sample:
    value = rng.choice(["AKIA", "ASIA"]) + _pick(rng, BASE32, 16)
    return Sample("aws_access_key_id", value, (value,))


def _aws_secret(rng: random.Random) -> Sample:
    value = _pick(rng, B64, 40)
    key_id = "AKIA" + _pick(rng, BASE32, 16)
    text = rng.choice(
        [
            f"access key {key_id} with {value}",
            f"creds: {key_id} / {value}",
            f"secret_access_key={value}",
            f"export SECRET={value}",
            f'{{"SecretAccessKey": "{value}"}}',
            f"[default]\naws_access_key_id = {key_id}\nsecret = {value}",
            f"the key pair is {key_id}:{value}",
            f"use {value} for the boto client",
        ]
    )
    return Sample("aws_secret_access_key", text, (value,))


def _github_classic(rng: random.Random) -> Sample:
    value = "gh" + rng.choice("pousr") + "_" + _pick(rng, ALNUM, 36)
    return Sample("github_classic", value, (value,))


def _github_fine_grained(rng: random.Random) -> Sample:
    value = "github_pat_" + _pick(rng, ALNUM, 22) + "_" + _pick(rng, ALNUM, 59)
    return Sample("github_fine_grained", value, (value,))


def _gitlab(rng: random.Random) -> Sample:
    value = "glpat-" + _pick(rng, ALNUM + "-_", 20)
    return Sample("gitlab", value, (value,))


def _huggingface(rng: random.Random) -> Sample:
    value = "hf_" + _pick(rng, ALNUM, 34)
    return Sample("huggingface", value, (value,))


def _npm(rng: random.Random) -> Sample:
    value = "npm_" + _pick(rng, ALNUM, 36)
    return Sample("npm", value, (value,))


def _pypi(rng: random.Random) -> Sample:
    macaroon = b"\x02\x01\x08pypi.org\x02" + rng.randbytes(rng.randint(100, 140))
    value = "pypi-" + _b64url(macaroon)
    return Sample("pypi", value, (value,))


def _twilio_sid(rng: random.Random) -> Sample:
    value = "AC" + _pick(rng, HEX, 32)
    return Sample("twilio_account_sid", value, (value,))


def _twilio_api_key(rng: random.Random) -> Sample:
    value = "SK" + _pick(rng, HEX, 32)
    return Sample("twilio_api_key", value, (value,))


def _twilio_auth_token(rng: random.Random) -> Sample:
    value = _pick(rng, HEX, 32)
    sid = "AC" + _pick(rng, HEX, 32)
    text = rng.choice(
        [
            f"TWILIO_AUTH_TOKEN={value}",
            f"twilio auth token: {value}",
            f'{{"account_sid": "{sid}", "auth_token": "{value}"}}',
            f"Client({sid}, {value})",
            f"our Twilio token is {value}",
            f"authToken = '{value}'",
        ]
    )
    return Sample("twilio_auth_token", text, (value,))


def _sendgrid(rng: random.Random) -> Sample:
    value = "SG." + _pick(rng, B64URL, 22) + "." + _pick(rng, B64URL, 43)
    return Sample("sendgrid", value, (value,))


def _stripe_short(rng: random.Random) -> Sample:
    value = rng.choice(["sk_live_", "sk_test_", "rk_live_"]) + _pick(rng, ALNUM, 24)
    return Sample("stripe_24", value, (value,))


def _stripe_long(rng: random.Random) -> Sample:
    value = rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + "51" + _pick(rng, ALNUM, 97)
    return Sample("stripe_99", value, (value, value[-60:]))


def _anthropic(rng: random.Random) -> Sample:
    value = "sk-ant-" + rng.choice(["api03-", "admin01-"]) + _pick(rng, B64URL, 93) + "AA"
    return Sample("anthropic", value, (value, value[-50:]))


def _openai_project(rng: random.Random) -> Sample:
    prefix = rng.choice(["sk-proj-", "sk-svcacct-", "sk-admin-"])
    value = prefix + _pick(rng, B64URL, rng.choice([48, 74, 156]))
    return Sample("openai_project", value, (value, value[-30:]))


def _openai_legacy(rng: random.Random) -> Sample:
    value = "sk-" + _pick(rng, ALNUM, 20) + "T3BlbkFJ" + _pick(rng, ALNUM, 20)
    return Sample("openai_legacy", value, (value,))


def _google(rng: random.Random) -> Sample:
    value = "AIza" + _pick(rng, B64URL, 35)
    return Sample("google_api_key", value, (value,))


def _azure_storage(rng: random.Random) -> Sample:
    key = _pick(rng, B64, 86) + "=="
    account = _pick(rng, LOWER + DIGITS, 10)
    text = (
        f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};"
        "EndpointSuffix=core.windows.net"
    )
    return Sample("azure_storage_connection", text, (key, key[:40]))


def _azure_servicebus(rng: random.Random) -> Sample:
    key = _pick(rng, B64, 43) + "="
    namespace = _pick(rng, LOWER, 8)
    text = (
        f"Endpoint=sb://{namespace}.servicebus.windows.net/;"
        f"SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}"
    )
    return Sample("azure_sas_connection", text, (key,))


def _pem_body(rng: random.Random, lines: int) -> list[str]:
    return [_pick(rng, B64, 64) for _ in range(lines)]


def _gcp_service_account(rng: random.Random) -> Sample:
    key_id = _pick(rng, HEX, 40)
    body = _pem_body(rng, 6)
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
    project = _pick(rng, LOWER, 8) + "-" + _pick(rng, DIGITS, 6)
    account = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": f"deployer@{project}.iam.gserviceaccount.com",
        "client_id": _pick(rng, DIGITS, 21),
    }
    return Sample("gcp_service_account", json.dumps(account, indent=1), (key_id, *body))


def _jwt(rng: random.Random) -> Sample:
    header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {
        "sub": str(uuid.UUID(int=rng.getrandbits(128))),
        "iat": rng.randint(1_600_000_000, 1_800_000_000),
    }
    payload = _b64url(json.dumps(claims).encode())
    value = f"{header}.{payload}.{_b64url(rng.randbytes(32))}"
    return Sample("jwt", value, (value, value.rsplit(".", 1)[1]))


def _pem(rng: random.Random) -> Sample:
    label = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = _pem_body(rng, rng.randint(3, 8))
    text = f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----"
    return Sample("pem_private_key", text, tuple(body))


def _slack(rng: random.Random) -> Sample:
    value = (
        "xox"
        + rng.choice("bpa")
        + "-"
        + _pick(rng, DIGITS, rng.randint(10, 13))
        + "-"
        + _pick(rng, DIGITS, rng.randint(10, 13))
        + "-"
        + _pick(rng, ALNUM, 24)
    )
    return Sample("slack", value, (value, value[-24:]))


def _url_password(rng: random.Random) -> Sample:
    password = _pick(rng, ALNUM, 6) + _pick(rng, "!$&*+,;=", 3) + _pick(rng, ALNUM, 5)
    password = "".join(rng.sample(password, len(password)))
    scheme = rng.choice(["postgres", "mysql", "redis", "https", "amqp", "mongodb+srv"])
    user = rng.choice(["admin", "app", "svc_reporting", "deploy"])
    host = rng.choice(["db.internal", "10.0.3.7", "cache.example.net", "mq.corp.local"])
    text = f"{scheme}://{user}:{password}@{host}:{rng.randint(1000, 9999)}/main"
    return Sample("url_password", text, (password,))


def _password_assignment(rng: random.Random) -> Sample:
    password = _pick(rng, ALNUM, 8) + _pick(rng, "!#%@^", 2) + _pick(rng, DIGITS, 2)
    text = rng.choice(
        [
            f"password={password}",
            f'"password": "{password}"',
            f"DB_PASSWORD: {password}",
            f"login with passwd = '{password}'",
            f'<connection user="app" Password="{password}" />',
            f"pwd={password};",
        ]
    )
    return Sample("password_assignment", text, (password,))


def _bearer(rng: random.Random) -> Sample:
    value = _pick(rng, ALNUM + "-._~", 40)
    return Sample("bearer_token", f"Authorization: Bearer {value}", (value,))


def _llm_gateway_key(rng: random.Random) -> Sample:
    """Keys of LLM gateways and tracing tools (OpenRouter, Groq, Langfuse, LangSmith)."""
    value = rng.choice(
        [
            "sk-or-v1-" + _pick(rng, HEX, 64),
            "gsk_" + _pick(rng, ALNUM, 52),
            "sk-lf-" + str(uuid.UUID(int=rng.getrandbits(128))),
            f"lsv2_{rng.choice(['pt', 'sk'])}_{_pick(rng, HEX, 32)}_{_pick(rng, HEX, 10)}",
        ]
    )
    return Sample("llm_gateway_key", value, (value,))


def _chat_bot_token(rng: random.Random) -> Sample:
    """Discord and Telegram bot tokens."""
    if rng.random() < 0.5:
        user_id = base64.b64encode(str(rng.randint(10**17, 10**19)).encode()).decode()
        value = f"{user_id.rstrip('=')}.{_pick(rng, B64URL, 6)}.{_pick(rng, B64URL, 38)}"
    else:
        value = f"{rng.randint(10**8, 10**10 - 1)}:AA{_pick(rng, B64URL, 33)}"
    return Sample("chat_bot_token", value, (value,))


def _google_oauth_secret(rng: random.Random) -> Sample:
    value = "GOCSPX-" + _pick(rng, B64URL, 28)
    return Sample("google_oauth_secret", value, (value,))


def _ssn_dashed(rng: random.Random) -> Sample:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    value = f"{area:03d}{rng.choice('- ')}{rng.randint(1, 99):02d}"
    value = f"{value}{value[3]}{rng.randint(1, 9999):04d}"
    return Sample("ssn_separated", value, (value,), pii=True)


def _ssn_plain(rng: random.Random) -> Sample:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    value = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    text = rng.choice(
        [
            f"SSN {value}",
            f"social security number: {value}",
            f"ssn={value}",
            f'{{"ssn": "{value}"}}',
            f"my Social Security # is {value}",
            f"SSN#{value}",
        ]
    )
    return Sample("ssn_plain", text, (value,), pii=True)


def _card(rng: random.Random) -> Sample:
    prefix, length = rng.choice(
        [("4", 16), ("51", 16), ("55", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16)]
    )
    number = _luhn_complete(rng, prefix, length)
    sizes = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    value = rng.choice([number, _group(number, sizes, " "), _group(number, sizes, "-")])
    text = rng.choice([value, value, f"{value} {rng.randint(100, 999)}", f"{value} exp 09/28"])
    return Sample("card_major", text, (value,), pii=True)


def _mastercard_2(rng: random.Random) -> Sample:
    number = _luhn_complete(rng, str(rng.randint(2221, 2720)), 16)
    value = rng.choice([number, _group(number, (4, 4, 4, 4), " ")])
    return Sample("mastercard_2_series", value, (value,), pii=True)


def _nanp(rng: random.Random) -> tuple[str, str, str]:
    return (
        f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}",
        f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}",
        f"{rng.randint(0, 9999):04d}",
    )


def _phone_dotted(rng: random.Random) -> Sample:
    area, exchange, line = _nanp(rng)
    value = f"{area}.{exchange}.{line}"
    return Sample("phone_us_dotted", value, (value,), pii=True)


def _phone_us(rng: random.Random) -> Sample:
    area, exchange, line = _nanp(rng)
    value = rng.choice(
        [
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"+1 {area} {exchange} {line}",
            f"1-{area}-{exchange}-{line}",
        ]
    )
    return Sample("phone_us", value, (value,), pii=True)


def _phone_international(rng: random.Random) -> Sample:
    value = rng.choice(
        [
            f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            f"+49 30 {rng.randint(1000000, 99999999)}",
            f"+33 {rng.randint(1, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
            f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
            f"+91 {rng.randint(70000, 99999)} {rng.randint(10000, 99999)}",
        ]
    )
    return Sample("phone_international", value, (value,), pii=True)


def _email(rng: random.Random) -> Sample:
    local = rng.choice(["j.smith", "maria_garcia", "ops+alerts", "wei.zhang", "k.oconnor"])
    local += str(rng.randint(1, 999))
    domain = rng.choice(["gmail.com", "acme-corp.io", "mail.example.co.uk", "uni-bonn.de"])
    value = f"{local}@{domain}"
    return Sample("email", value, (value,), pii=True)


def _iban(rng: random.Random) -> Sample:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24)])
    if country in ("GB", "NL"):
        bban = _pick(rng, UPPER, 4) + _pick(rng, DIGITS, length - 8)
    else:
        bban = _pick(rng, DIGITS, length - 4)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    value = rng.choice([compact, " ".join(compact[i : i + 4] for i in range(0, length, 4))])
    return Sample("iban", value, (value,), pii=True)


GENERATORS: dict[str, Callable[[random.Random], Sample]] = {
    "aws_access_key_id": _aws_key_id,
    "aws_secret_access_key": _aws_secret,
    "github_classic": _github_classic,
    "github_fine_grained": _github_fine_grained,
    "gitlab": _gitlab,
    "huggingface": _huggingface,
    "npm": _npm,
    "pypi": _pypi,
    "twilio_account_sid": _twilio_sid,
    "twilio_api_key": _twilio_api_key,
    "twilio_auth_token": _twilio_auth_token,
    "sendgrid": _sendgrid,
    "stripe_24": _stripe_short,
    "stripe_99": _stripe_long,
    "anthropic": _anthropic,
    "openai_project": _openai_project,
    "openai_legacy": _openai_legacy,
    "google_api_key": _google,
    "azure_storage_connection": _azure_storage,
    "azure_sas_connection": _azure_servicebus,
    "gcp_service_account": _gcp_service_account,
    "jwt": _jwt,
    "pem_private_key": _pem,
    "slack": _slack,
    "llm_gateway_key": _llm_gateway_key,
    "chat_bot_token": _chat_bot_token,
    "google_oauth_secret": _google_oauth_secret,
    "url_password": _url_password,
    "password_assignment": _password_assignment,
    "bearer_token": _bearer,
    "ssn_separated": _ssn_dashed,
    "ssn_plain": _ssn_plain,
    "card_major": _card,
    "mastercard_2_series": _mastercard_2,
    "phone_us_dotted": _phone_dotted,
    "phone_us": _phone_us,
    "phone_international": _phone_international,
    "email": _email,
    "iban": _iban,
}


def samples(kind: str, count: int, seed: int = 17) -> list[Sample]:
    """``count`` samples of one type, reproducible from ``seed``."""
    rng = random.Random(f"{seed}:{kind}")
    return [GENERATORS[kind](rng) for _ in range(count)]


PROSE_BEFORE = [
    "Can you check why this fails?",
    "Here is my config, please fix the deploy:",
    "The customer wrote:",
    "“Debug this for me”",
    "Ticket 4411 — user pasted",
    "Summarise the following log line.",
    "Per our call,",
    "",
]
PROSE_AFTER = [
    "Thanks!",
    "It worked yesterday.",
    "— sent from my phone",
    "Why does it say 401?",
    "(urgent)",
    "",
]


def embed(rng: random.Random, text: str) -> str:
    """The text inside a line of ordinary prose, joined by a space or a newline."""
    before = rng.choice(PROSE_BEFORE) + rng.choice([" ", "\n"])
    after = rng.choice([" ", "\n", ". "]) + rng.choice(PROSE_AFTER)
    return f"{before}{text}{after}"


def _words(rng: random.Random, n: int) -> str:
    vocabulary = [
        "the",
        "invoice",
        "order",
        "shipment",
        "release",
        "build",
        "server",
        "deploy",
        "model",
        "prompt",
        "review",
        "customer",
        "report",
        "summary",
        "update",
        "latency",
        "cache",
        "query",
        "table",
        "index",
        "user",
        "account",
        "retry",
        "timeout",
        "version",
        "config",
        "cluster",
        "node",
        "region",
        "budget",
        "forecast",
    ]
    return " ".join(rng.choice(vocabulary) for _ in range(n))


def benign_snippet(rng: random.Random, index: int) -> str:
    """One ordinary snippet of the kinds that look a little like secrets or PII."""
    makers: list[Callable[[], str]] = [
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        lambda: _pick(rng, HEX, 40),
        lambda: _pick(rng, HEX, 64),
        lambda: "sha256:" + _pick(rng, HEX, 64),
        lambda: _pick(rng, HEX, 32),
        lambda: f"v{rng.randint(0, 20)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}",
        lambda: (
            f"{rng.randint(1, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}-rc.{rng.randint(1, 9)}"
        ),
        lambda: f"${rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}",
        lambda: f"€{rng.randint(1, 9999)},{rng.randint(0, 99):02d}",
        lambda: f"{rng.randint(2019, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        lambda: (
            f"{rng.randint(2019, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
            f"{rng.randint(0, 999):03d}Z"
        ),
        lambda: f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(2019, 2027)}",
        lambda: f"ORD-{rng.randint(2019, 2027)}-{rng.randint(100000, 999999)}",
        lambda: f"order #{rng.randint(10000000, 99999999)}",
        lambda: f"INV-{rng.randint(1, 99999):05d}",
        lambda: f"PROJ-{rng.randint(1, 9999)}",
        lambda: f"1Z{_pick(rng, UPPER + DIGITS, 6)}{_pick(rng, DIGITS, 10)}",
        lambda: ".".join(str(rng.randint(1, 255)) for _ in range(4)),
        lambda: f"{rng.randint(1600000000, 1800000000)}",
        lambda: f"{rng.randint(1600000000000, 1800000000000)}",
        lambda: f"{rng.uniform(-90, 90):.4f}, {rng.uniform(-180, 180):.4f}",
        lambda: "#" + _pick(rng, HEX, 6),
        lambda: ":".join(_pick(rng, HEX, 2) for _ in range(6)),
        lambda: (
            f"arn:aws:iam::{_pick(rng, DIGITS, 12)}:role/"
            + rng.choice(["Admin", "ReadOnly", "ci-deployer"])
        ),
        lambda: (
            f"s3://{rng.choice(['logs', 'exports', 'ml-artifacts'])}-{_pick(rng, LOWER, 5)}/"
            f"{rng.randint(2020, 2026)}/part-{rng.randint(0, 999):05d}.parquet"
        ),
        lambda: (
            f"https://docs.example.com/{_pick(rng, LOWER, 6)}/{rng.randint(1, 99)}"
            f"?page={rng.randint(1, 9)}&lang=en"
        ),
        lambda: f"lodash@{rng.randint(1, 4)}.{rng.randint(0, 17)}.{rng.randint(0, 21)}",
        lambda: "git clone git@github.com:acme/" + _pick(rng, LOWER, 7) + ".git",
        lambda: (
            f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(10, 99)}-"
            f"{rng.randint(100000, 999999)}-{rng.randint(0, 9)}"
        ),
        lambda: f"{rng.randint(1, 99)}.{rng.randint(0, 9)}%",
        lambda: f"temperature={rng.uniform(0, 1):.2f}, max_tokens={rng.randint(64, 8192)}",
        lambda: f"token count: {rng.randint(10, 99999)}",
        lambda: "api_key = os.environ['OPENAI_API_KEY']",
        lambda: 'password: "********"',
        lambda: "Set the secret in ${STRIPE_SECRET_KEY} before deploy",
        lambda: f"def {_pick(rng, LOWER, 8)}(x: int) -> int:\n    return x * {rng.randint(2, 99)}",
        lambda: (
            f"SELECT id, total FROM orders WHERE created_at > '2025-0{rng.randint(1, 9)}-01' "
            f"LIMIT {rng.randint(1, 500)};"
        ),
        lambda: f"kubectl rollout restart deployment/{_pick(rng, LOWER, 6)}-api -n prod",
        lambda: (
            f"{_pick(rng, LOWER, 6)}-{_pick(rng, LOWER + DIGITS, 10)}-"
            f"{_pick(rng, LOWER + DIGITS, 5)}"
        ),
        lambda: base64.b64encode(_words(rng, rng.randint(3, 10)).encode()).decode(),
        lambda: "getAuthenticationProviderConfigurationForTenantV2",
        lambda: f"claude-3-5-haiku-{rng.randint(20240101, 20261231)}",
        lambda: f"gpt-4o-mini-2024-07-{rng.randint(10, 28)}",
        lambda: f"{rng.randint(100, 999)} {_words(rng, 2)} street, suite {rng.randint(1, 999)}",
        lambda: f"retry in {rng.randint(1, 120)}s (attempt {rng.randint(1, 9)}/10)",
        lambda: (
            f"latency p99 {rng.randint(10, 9000)} ms over {rng.randint(1000, 10000000):,} requests"
        ),
        lambda: f"scikit-learn (sk-learn) {rng.randint(0, 1)}.{rng.randint(0, 9)} pipeline",
        lambda: f"hf_hub_download(repo_id='{_pick(rng, LOWER, 6)}/{_pick(rng, LOWER, 8)}')",
        lambda: f"pk_test_{_pick(rng, LOWER, 6)} is the publishable placeholder",
        lambda: f"Room {rng.randint(100, 999)}, call ext. {rng.randint(1000, 9999)}",
        lambda: f"SKU {_pick(rng, UPPER, 3)}-{rng.randint(1000, 9999)}-{_pick(rng, UPPER, 2)}",
        lambda: f"{_words(rng, rng.randint(4, 14))}.",
        lambda: f"{rng.randint(1, 9)}{_pick(rng, DIGITS, 9)} bytes",
        lambda: f"chatcmpl-{_pick(rng, ALNUM, 29)}",
        lambda: f"call_{_pick(rng, ALNUM, 24)}",
        lambda: f"msg_{_pick(rng, ALNUM, 24)}",
    ]
    return makers[index % len(makers)]()


def benign_snippets(count: int, seed: int = 17) -> list[str]:
    """``count`` benign snippets covering every kind above evenly."""
    rng = random.Random(f"{seed}:benign")
    return [benign_snippet(rng, index) for index in range(count)]
