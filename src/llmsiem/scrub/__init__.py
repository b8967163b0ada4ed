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

__all__ = [
    "HMAC_KEY_ENV",
    "MissingScrubKeyError",
    "Mode",
    "ScrubResult",
    "Scrubber",
    "Span",
    "find_spans",
    "might_contain_sensitive",
]
