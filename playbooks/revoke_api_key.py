"""Revoke an API key that looks stolen or abused (new IPs, scripting clients, token bursts)."""

from llmsiem.respond.playbook import Playbook, Trigger

PLAYBOOK = Playbook(
    id="revoke_api_key",
    title="Revoke API key",
    description="Put the key on the local enforcement list and block it in the LiteLLM proxy.",
    trigger=Trigger(
        rules=(
            "correlation_api_key_many_source_ips",
            "correlation_api_key_many_user_agents",
            "correlation_token_burst_per_api_key",
            "cloud_or_api_key_in_prompt",
        ),
        min_level="high",
    ),
    inputs={"api_key": "llmsiem.api_key.id"},
    steps=("revoke_key_local", "litellm_block_key"),
)
