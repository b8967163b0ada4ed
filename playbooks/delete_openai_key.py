"""Delete a leaked OpenAI project key (irreversible: the runner always asks for approval)."""

from llmsiem.respond.playbook import Playbook, Trigger

PLAYBOOK = Playbook(
    id="delete_openai_key",
    title="Delete OpenAI project key",
    description="Delete the key through the OpenAI Admin API after a human approves.",
    trigger=Trigger(rules=("secret_in_response",), min_level="high"),
    inputs={"api_key": "llmsiem.api_key.id"},
    steps=("openai_delete_project_key",),
)
