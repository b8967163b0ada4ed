"""Scrubbing secrets and personal data out of events before anything stores or ships them.

``detectors`` holds one pattern per format, ``decoding`` the decoded views (JSON and
percent escapes, base64 runs), ``scan`` finds spans in one text, ``document`` walks every
string of an event and names the identity fields, ``scrubber`` replaces what is found.
"""

from llmsiem.scrub.scan import Span, find_spans, might_contain_sensitive
from llmsiem.scrub.scrubber import (
    HMAC_KEY_ENV,
    MissingScrubKeyError,
    Mode,
    Scrubber,
    ScrubResult,
)

# The free-text fields of the schema. The scrubber does not use these (it reads every
# string); they remain for llmsiem.pipeline.bulk, whose fast path must move to
# ``might_contain_sensitive`` on each raw line to see every field.
TEXT_FIELDS = (
    ("llmsiem", "prompt", "text"),
    ("llmsiem", "context", "text"),
    ("llmsiem", "response", "text"),
    ("gen_ai", "tool", "call", "arguments"),
    ("gen_ai", "tool", "call", "result"),
    ("error", "message"),
    ("event", "original"),
)
MESSAGE_FIELDS = (("gen_ai", "input", "messages"), ("gen_ai", "output", "messages"))

__all__ = [
    "HMAC_KEY_ENV",
    "MESSAGE_FIELDS",
    "TEXT_FIELDS",
    "MissingScrubKeyError",
    "Mode",
    "ScrubResult",
    "Scrubber",
    "Span",
    "find_spans",
    "might_contain_sensitive",
]
