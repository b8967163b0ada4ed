"""Block a user who probes guardrails, jailbreaks repeatedly or hijacks an agent's tools."""

from llmsiem.respond.playbook import Playbook, Trigger

PLAYBOOK = Playbook(
    id="block_user",
    title="Block user",
    description="Block the user locally and disable the account (and sessions) in Keycloak.",
    trigger=Trigger(
        rules=(
            "correlation_guardrail_block_burst",
            "correlation_refusal_burst",
            "correlation_injection_then_sensitive_tool",
        ),
        min_level="medium",
    ),
    inputs={"user": "user.id"},
    steps=("block_user_local", "keycloak_disable_user"),
)
