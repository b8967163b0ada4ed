"""LiteLLM proxy ``custom_auth`` hook that enforces llmsiem's revocation and block list.

In the proxy's config.yaml::

    general_settings:
      custom_auth: llmsiem.integrations.litellm_auth.user_api_key_auth

Every request's key is hashed (SHA-256, as LiteLLM hashes virtual keys) and refused when the
hash, or its first 16 hex characters (the ``llmsiem.api_key.id`` of LiteLLM telemetry), is on
the local enforcement list; so is a request whose ``user`` field names a blocked user.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litellm.proxy._types import ProxyException, UserAPIKeyAuth

from llmsiem.respond.actions.local import EnforcementList


async def user_api_key_auth(request: Any, api_key: str) -> UserAPIKeyAuth:
    """Refuse revoked keys and blocked users; accept everything else."""
    listed = EnforcementList().read()
    hashed = hashlib.sha256(api_key.encode()).hexdigest()
    if hashed in listed["keys"] or hashed[:16] in listed["keys"]:
        raise ProxyException(
            "API key revoked by llmsiem", type="auth_error", param="api_key", code=401
        )
    try:
        body = await request.json()
    except Exception:  # a request without a JSON body carries no user
        body = {}
    user = body.get("user") if isinstance(body, dict) else None
    if not isinstance(user, str):
        user = None  # only a string names an end user; anything else is not a principal
    if user and user in listed["users"]:
        raise ProxyException("user blocked by llmsiem", type="auth_error", param="user", code=401)
    return UserAPIKeyAuth(api_key=api_key, user_id=user)
