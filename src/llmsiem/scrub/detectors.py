"""What a secret or a piece of personal data looks like: one pattern (plus a check) per format.

Each :class:`Detector` has a Python ``pattern`` that finds the value, an optional ``check``
on the match (checksum, context words, randomness), the characters that must not precede
a match (``not_after``; checked in code, since a leading lookbehind stops ``re`` from
skipping ahead on the pattern's first character), and a ``needle``: an RE2 pattern that
every match contains. All needles form one RE2 set, the pre-filter: a text none of them
matches is not scanned further. Every repetition is bounded, so each scan is linear.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from llmsiem.scrub.decoding import decode_base64

WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
DIGIT = "0123456789"
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
ESCAPE_LETTERS = frozenset('nrtbfu"/\\')
B64 = r"[A-Za-z0-9+/]"
# RE2 needle prefix for "a token starts here" (see ``starts_clean``): a word boundary or
# the end of a JSON escape.
TOKEN_START = r"(?:\b|\\[nrtbf]|\\u[0-9A-Fa-f]{4})"
CONTEXT_CHARS = 48


def starts_clean(text: str, start: int, not_after: str) -> bool:
    """No character of ``not_after`` right before ``start``, unless it ends a JSON escape.

    ``\\n``, ``\\t`` ... and ``\\u201c`` count as boundaries, so a key written right after
    an escape in a raw JSON line is found; a match never starts inside an escape.
    """
    if start == 0:
        return True
    before = text[start - 1]
    if before == "\\":
        return text[start] not in ESCAPE_LETTERS
    if before not in not_after:
        return True
    if start >= 2 and text[start - 2] == "\\" and before in "nrtbf":
        return True
    return (
        start >= 6
        and text[start - 6 : start - 4] == "\\u"
        and all(c in HEX_DIGITS for c in text[start - 4 : start])
    )


def _has_classes(value: str, *, digit_or_symbol: bool = True) -> bool:
    """Upper and lower case letters and (optionally) a digit or symbol: random, not prose."""
    upper = any(c.isupper() for c in value)
    lower = any(c.islower() for c in value)
    other = any(not c.isalpha() for c in value)
    return upper and lower and (other or not digit_or_symbol)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _before(text: str, start: int, chars: int = CONTEXT_CHARS) -> str:
    return text[max(0, start - chars) : start].lower()


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class Detector:
    """One format: its type name, its pattern, which group is the value, and a check."""

    kind: str
    pattern: re.Pattern[str]
    needle: str  # RE2 pattern every match of ``pattern`` contains ("": see scan.py)
    group: int = 0
    # False rejects the match; a (start, end) pair narrows it
    check: Callable[[str, re.Match[str]], bool | tuple[int, int] | None] | None = None
    not_after: str = WORD
    pii: bool = False  # personal data (identity fields keep it); digit runs, retried inside


def _aws_secret(text: str, match: re.Match[str]) -> bool:
    """Random-looking 40 base64 characters: alone, or near an AWS key id or the word aws."""
    value = match.group(1)
    if re.fullmatch(r"[0-9a-fA-F]+", value) or not _has_classes(value, digit_or_symbol=False):
        return False
    window = text[max(0, match.start() - 300) : match.end() + 300]
    if AWS_KEY_ID.search(window) or "aws" in window.lower():
        return True
    # alone: random (not a word, not base64 of text), with a digit or symbol
    return _has_classes(value) and _entropy(value) >= 4.2 and decode_base64(value) is None


END = r"(?![A-Za-z0-9_])"
AWS_KEY_ID = re.compile(
    r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}" + END
)
TWILIO_CONTEXT = re.compile(r"twilio|auth.?token|account.?sid|\bac[0-9a-f]{32}")


def _twilio_token(text: str, match: re.Match[str]) -> bool:
    window = text[max(0, match.start() - 120) : match.end() + 120].lower()
    return bool(TWILIO_CONTEXT.search(window.replace(match.group(1), " ")))


def _openai(_text: str, match: re.Match[str]) -> bool:
    """Project, service-account and admin keys by prefix; bare ``sk-`` only if random."""
    value = match.group(0)
    return value.startswith(("sk-proj-", "sk-svcacct-", "sk-admin-")) or _has_classes(value[3:])


PLACEHOLDERS = re.compile(
    r"(?i)^(?:\[redacted|<|\$\{|\{\{|%\(|\*{3}|x{4}|null$|none$|true$|false$|undefined$|"
    r"required$|optional$|string$|str$|int$|bool$|env\b|os\.environ|process\.env|getenv)"
)


# Unquoted code on the right of an assignment: a call or a dotted name (token = f(x)).
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _is_code(value: str) -> bool:
    name, call, _ = value.partition("(")
    return bool(DOTTED_NAME.fullmatch(name)) and bool(call or "." in name)


def _keyword_value(_text: str, match: re.Match[str]) -> bool:
    """A value that is not a placeholder, a bare count, code, or a word of prose."""
    value = match.group("value")
    key = match.group("key").lower()
    if PLACEHOLDERS.match(value):
        return False
    password = key.startswith(("pass", "pwd"))
    if value.isdigit():
        return password and len(value) >= 4
    if not match.group("quote") and _is_code(value):
        return False
    if match.group("quote") or "=" in match.group("sep"):
        return len(value) >= (4 if password else 8)
    # "key: value" in prose: only values that do not read like a word
    return not (value.isalpha() and (value.islower() or value.istitle())) and len(value) >= 6


def _bearer(_text: str, match: re.Match[str]) -> bool:
    value = match.group(1)
    return any(c.isdigit() for c in value) or _has_classes(value, digit_or_symbol=False)


CARD_WORDS = re.compile(
    r"card|visa|master|amex|american express|discover|maestro|jcb|diners|unionpay|mir\b|"
    r"\bcc\b|\bpan\b|cc.?num|payment"
)
# Issuer prefixes and the lengths their numbers have (ISO/IEC 7812 ranges of the brands).
CARD_BRANDS = (
    (re.compile(r"4|5[1-5]|3[47]|6011|65"), frozenset(range(13, 20))),  # Visa, MC, Amex, Discover
    (re.compile(r"2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)"), frozenset({16})),  # MC
    (re.compile(r"64[4-9]|62|35(?:2[89]|[3-8]\d)|220[0-4]"), frozenset(range(16, 20))),
    (re.compile(r"30[0-5]|3[689]"), frozenset(range(14, 20))),  # Diners Club
    (re.compile(r"5[06-9]|6\d"), frozenset(range(16, 20))),  # Maestro
)


def _card(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """The longest card number at the match's start: a run of digit groups may run on
    into the next number (a CVV, a count), so shorter group-aligned prefixes are tried.
    A number needs its brand's prefix and length, or a card word just before it."""
    value = match.group(0)
    digits = value.replace(" ", "").replace("-", "")
    if len(set(digits)) < 2:
        return None
    lengths = {n for prefix, brand in CARD_BRANDS if prefix.match(digits) for n in brand}
    if CARD_WORDS.search(_before(text, match.start())):
        lengths = set(range(12, 20))
    candidates = []
    count = 0
    for end, char in enumerate(value, start=1):
        count += char.isdigit()
        if count in lengths and char.isdigit() and value[end : end + 1] in " -":
            candidates.append((count in (16, 15), count, end))
    for _, count, end in sorted(candidates, reverse=True):  # 16 and 15 digits first
        if luhn_valid(digits[:count]):
            return match.start(), match.start() + end
    return None


SSN_WORDS = re.compile(r"ssn|social.?security|soc\.? ?sec|ss#|tax.?id|\btin\b|\bsin\b")


def _ssn_plain(text: str, match: re.Match[str]) -> bool:
    return bool(SSN_WORDS.search(_before(text, match.start())))


IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(value: str) -> bool:
    """Country length and the ISO 13616 mod-97 check."""
    compact = value.replace(" ", "")
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _iban(_text: str, match: re.Match[str]) -> bool:
    return iban_valid(match.group(0))


def _phone(_text: str, match: re.Match[str]) -> bool:
    digits = sum(c.isdigit() for c in match.group(0))
    return (9 if match.group(0)[0] == "0" else 8) <= digits <= 15


EMAIL_SERVICE_USERS = {"git"}


URL_USERINFO_BEFORE = re.compile(r"://[^\s/@]{0,64}:[^\s/@]{0,128}$")


def _email(text: str, match: re.Match[str]) -> bool:
    """An address, unless it is a service user or the password@host of URL credentials."""
    if match.group(0).split("@", 1)[0].lower() in EMAIL_SERVICE_USERS:
        return False
    return not URL_USERINFO_BEFORE.search(text, max(0, match.start() - 200), match.start())


URL_CREDENTIALS = r"[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@\"'<>]{0,64}:([^\s/\"'<>]{1,128})@"
BEARER = r"(?i)(?<![a-z])(?:bearer|token)\s+([A-Za-z0-9._~+/-]{16,2000}=*)"


def _r(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _guarded(pattern: str, not_after: str) -> re.Pattern[str]:
    """``pattern`` that may only start where ``starts_clean`` allows.

    For patterns that begin with a character class (digits, base64), the lookbehind lets
    ``re`` reject a start inside a long run at once instead of trying the whole pattern
    there, which keeps a 100 KB run of digits linear.
    """
    chars = "".join(re.escape(c) for c in sorted(set(not_after)))
    return re.compile(rf"(?:(?<![{chars}\\])|(?<=\\[nrtbf])|(?<=\\u[0-9A-Fa-f]{{4}})){pattern}")


# Provider tokens recognised by a fixed prefix: type, prefix (the needle), rest.
PREFIXED_TOKENS = (
    ("GOOGLE_OAUTH_SECRET", "GOCSPX-", r"[A-Za-z0-9_-]{28}"),
    ("DATABRICKS_TOKEN", "dapi", r"[0-9a-f]{32}(?:-[0-9])?"),
    ("GROQ_KEY", "gsk_", r"[A-Za-z0-9]{48,56}"),
    ("XAI_KEY", "xai-", r"[A-Za-z0-9]{70,90}"),
    ("REPLICATE_TOKEN", "r8_", r"[A-Za-z0-9]{37}"),
    ("PERPLEXITY_KEY", "pplx-", r"[A-Za-z0-9]{40,56}"),
    ("OPENROUTER_KEY", "sk-or-v1-", r"[0-9a-f]{64}"),
    ("LANGSMITH_KEY", "lsv2_(?:pt|sk)_", r"[0-9a-f]{32}_[0-9a-f]{10}"),
    ("LANGFUSE_KEY", "sk-lf-", r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"),
    ("SHOPIFY_TOKEN", "shp(?:at|ss|ca|pa)_", r"[0-9a-fA-F]{32}"),
    ("DIGITALOCEAN_TOKEN", "do[por]_v1_", r"[0-9a-f]{64}"),
    ("SQUARE_TOKEN", "sq0(?:atp|csp)-", r"[0-9A-Za-z_-]{22,43}"),
)


# An unquoted value ends at one of these (and never starts a structure: "{", "[").
KEYWORD_VALUE_STOP = r"\s\"'`,;&{}\[\]\)<>"


def _keyword_detector(kind: str, keys: str, *, digits_allowed: bool) -> Detector:
    """``key = value`` / ``"key": "value"`` where the key names a credential."""
    digit = "" if digits_allowed else "0-9"
    # a bare number is no secret (max_tokens=1024); the needle skips it the same way
    no_bare_number = "" if digits_allowed else rf"(?![0-9]+(?:[{KEYWORD_VALUE_STOP}]|$))"
    value_start = rf"(?:[\"'`][0-9]*[^{digit}\s\"'`]|[0-9]*[^{digit}{KEYWORD_VALUE_STOP}])"
    return Detector(
        kind,
        _r(
            rf"(?i)(?P<key>{keys})s?[\"']?(?P<sep>\s{{0,3}}(?:=>|:=|=|:)\s{{0,3}})"
            rf"(?P<quote>[\"'`])?{no_bare_number}"
            rf"(?P<value>(?(quote)[^\"'`\s][^\"'`\n]{{0,255}}|[^{KEYWORD_VALUE_STOP}]{{1,256}}))"
        ),
        rf"(?i)(?:{keys})s?[\"']?\s{{0,3}}(?:=>|:=|=|:)\s{{0,3}}{value_start}",
        4,
        _keyword_value,
        not_after="",
    )


SECRET_DETECTORS: tuple[Detector, ...] = (
    Detector("AWS_KEY", AWS_KEY_ID, AWS_KEY_ID.pattern.removesuffix("[A-Z0-9]{16}" + END)),
    Detector(
        "AWS_SECRET",
        _guarded(r"(" + B64 + r"{40})(?![A-Za-z0-9/+=])", WORD + "/+="),
        "",  # no needle: runs wherever the base64-run scan finds a candidate run
        1,
        _aws_secret,
        not_after=WORD + "/+=",
    ),
    Detector("GITHUB_TOKEN", _r(r"gh[pousr]_[A-Za-z0-9]{36,251}" + END), "gh[pousr]_"),
    Detector("GITHUB_TOKEN", _r(r"github_pat_[A-Za-z0-9_]{22,255}"), "github_pat_"),
    Detector("GITLAB_TOKEN", _r(r"glpat-[A-Za-z0-9_-]{20,64}"), "glpat-"),
    Detector("HUGGINGFACE_TOKEN", _r(r"hf_[A-Za-z0-9]{30,64}" + END), "hf_"),
    Detector("NPM_TOKEN", _r(r"npm_[A-Za-z0-9]{36}" + END), "npm_"),
    Detector("PYPI_TOKEN", _r(r"pypi-Ag[A-Za-z0-9_-]{40,400}"), "pypi-Ag"),
    Detector("TWILIO_SID", _r(r"AC[0-9a-f]{32}" + END), "AC[0-9a-f]{4}"),
    Detector("TWILIO_KEY", _r(r"SK[0-9a-f]{32}" + END), "SK[0-9a-f]{4}"),
    Detector(
        "TWILIO_KEY",
        _guarded(r"([0-9a-f]{32})(?![0-9A-Za-z])", WORD),
        "(?i)" + TWILIO_CONTEXT.pattern,
        1,
        _twilio_token,
        not_after=WORD,
    ),
    Detector(
        "SENDGRID_KEY",
        _r(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + END),
        r"SG\.",
    ),
    Detector(
        "STRIPE_KEY", _r(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}"), "(?:sk|rk)_(?:live|test)_"
    ),
    Detector("STRIPE_KEY", _r(r"whsec_[A-Za-z0-9+/]{24,100}"), "whsec_"),
    Detector("ANTHROPIC_KEY", _r(r"sk-ant-[A-Za-z0-9_-]{20,400}"), "sk-ant-"),
    Detector(
        "OPENAI_KEY",
        _r(r"sk-(?!ant-)(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_-]{20,400}"),
        "sk-",
        0,
        _openai,
    ),
    Detector("GCP_KEY", _r(r"AIza[0-9A-Za-z_-]{35}"), "AIza"),
    *(Detector(kind, _r(prefix + rest + END), prefix) for kind, prefix, rest in PREFIXED_TOKENS),
    Detector(
        "DISCORD_TOKEN",
        _guarded(r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}" + END, WORD),
        r"\.[A-Za-z0-9_-]{6}\.",
    ),
    Detector(
        "TELEGRAM_TOKEN",
        _guarded(r"[0-9]{8,10}:AA[0-9A-Za-z_-]{33}" + END, WORD),
        r"[0-9]:AA",
    ),
    Detector(
        "MAILCHIMP_KEY",
        _guarded(r"[0-9a-f]{32}-us[0-9]{1,2}" + END, WORD),
        r"-us[0-9]",
    ),
    Detector(
        "GCP_SERVICE_ACCOUNT",
        _r(r"private_key_id[\"']?\s*[:=]\s*[\"']?([0-9a-f]{40})(?![0-9a-f])"),
        "private_key_id",
        1,
        not_after="",
    ),
    Detector(
        "AZURE_KEY",
        _r(r"(?i)(?:AccountKey|SharedAccessKey)\s*=\s*(" + B64 + r"{20,120}={0,2})"),
        "(?i)accountkey|sharedaccesskey",
        1,
        not_after="",
    ),
    Detector(
        "AZURE_KEY",
        _r(r"[?&;]sig=([A-Za-z0-9%+/]{20,120}(?:=|%3[Dd]){0,2})"),
        "[?&;]sig=",
        1,
        not_after="",
    ),
    Detector(
        "JWT",
        _r(r"eyJ[A-Za-z0-9_-]{8,8000}\.eyJ[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{0,8000}"),
        r"\.eyJ",
    ),
    Detector(
        "PRIVATE_KEY",
        _r(
            r"-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        "PRIVATE KEY",
        not_after="",
    ),
    Detector("SLACK_TOKEN", _r(r"xox[abposr]-[A-Za-z0-9-]{10,250}"), "xox[abposr]-"),
    Detector("SLACK_TOKEN", _r(r"xapp-\d-[A-Za-z0-9-]{10,250}"), "xapp-"),
    Detector(
        "SLACK_TOKEN",
        _r(r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/-]{20,200}"),
        r"hooks\.slack\.com/",
        not_after="",
    ),
    Detector(
        "BASIC_AUTH",
        _r(URL_CREDENTIALS + "(?=[A-Za-z0-9.-])"),
        r"://[^\s:/@\"'<>]*:[^\s/\"'<>]*@",
        1,
        not_after="",
    ),
    Detector(
        "SECRET",
        _r(r"(?i)(?:bearer|token)\s+([A-Za-z0-9._~+/-]{16,2000}=*)"),
        r"(?i)(?:bearer|token)\s+[A-Za-z0-9._~+/-]",
        1,
        _bearer,
        not_after="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ),
    _keyword_detector("PASSWORD", r"pass(?:word|wd|phrase)?|pwd", digits_allowed=True),
    _keyword_detector(
        "SECRET",
        r"secret|client.?secret|api.?key|access.?key|access.?token|auth.?token|"
        r"refresh.?token|token|private.?key|credentials?",
        digits_allowed=False,
    ),
)
PII_DETECTORS: tuple[Detector, ...] = (
    Detector(
        "EMAIL_ADDRESS",
        _guarded(
            r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}"
            r"(?![A-Za-z0-9-])",
            WORD + ".%+-",
        ),
        "[A-Za-z0-9._%+-]@[A-Za-z0-9]",
        0,
        _email,
        not_after=WORD + ".%+-",
        pii=True,
    ),
    Detector(
        "CREDIT_CARD",
        # groups of 3 to 6 digits after a first group of 4, or one run of digits
        _guarded(r"[0-9]{4}(?:[ -]?[0-9]{3,6}){2,4}(?!-?[A-Za-z0-9_])", WORD + "-"),
        TOKEN_START + "[0-9](?:[ -]?[0-9]){11}",
        0,
        _card,
        not_after=WORD + "-",
        pii=True,
    ),
    Detector(
        "US_SSN",
        _guarded(
            r"(?!000|666|9)[0-9]{3}([- ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![0-9-])", DIGIT + "-"
        ),
        "[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}",
        not_after=DIGIT + "-",
        pii=True,
    ),
    Detector(
        "US_SSN",
        _guarded(r"(?!000|666|9)[0-9]{3}(?!00)[0-9]{2}(?!0000)[0-9]{4}(?![0-9])", DIGIT),
        "(?i)" + SSN_WORDS.pattern,
        0,
        _ssn_plain,
        not_after=DIGIT,
        pii=True,
    ),
    Detector(
        "PHONE_NUMBER",
        _guarded(
            r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])"
            r"[2-9][0-9]{2}[ .-][0-9]{4}(?![0-9]|[.-][0-9])",
            DIGIT + ".+-",
        ),
        "[0-9]{3}[ .-][0-9]{4}",
        not_after=DIGIT + ".+-",
        pii=True,
    ),
    Detector(
        "PHONE_NUMBER",
        _r(
            r"\+[1-9][0-9]{0,2}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}"
            r"(?:[ .-][0-9]{2,8}){1,4}(?![0-9]|[.-][0-9])"
        ),
        r"\+[1-9]",
        0,
        _phone,
        not_after=WORD + "+",
        pii=True,
    ),
    Detector(  # national format with a trunk 0: 07700 900 123, 0490 75 40 81
        "PHONE_NUMBER",
        _guarded(
            r"0[0-9]{2,4}[ -][0-9]{2,4}(?:[ -][0-9]{2,4}){1,3}(?![0-9]|[.-][0-9])", WORD + ".+-"
        ),
        TOKEN_START + "0[0-9]{2,4}[ -][0-9]{2}",
        0,
        _phone,
        not_after=WORD + ".+-",
        pii=True,
    ),
    Detector(  # area code in parentheses: (37) 788-0631
        "PHONE_NUMBER",
        _r(r"\([0-9]{2,4}\)[ .-]?[0-9]{3,4}[ .-][0-9]{3,4}(?![0-9]|[.-][0-9])"),
        r"\([0-9]{2,4}\)[ .-]?[0-9]{3}",
        0,
        _phone,
        not_after=DIGIT,
        pii=True,
    ),
    Detector(
        "IBAN_CODE",
        _guarded(
            r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])", WORD
        ),
        "[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}",
        0,
        _iban,
        pii=True,
    ),
)
DETECTORS = SECRET_DETECTORS + PII_DETECTORS
