"""Roll a prompt template back to the last known-good version when an unapproved one serves."""

from llmsiem.respond.playbook import Playbook, Trigger

PLAYBOOK = Playbook(
    id="rollback_prompt_version",
    title="Roll back prompt version",
    description="Move the production alias (MLflow) or label (Langfuse) to the previous version.",
    trigger=Trigger(
        rules=("prompt_template_version_drift", "system_prompt_echoed_in_response"),
        min_level="medium",
    ),
    inputs={"prompt_name": "llmsiem.prompt.template.name"},
    constants={"alias": "production", "label": "production"},
    steps=("mlflow_rollback_prompt_alias", "langfuse_rollback_prompt"),
)
