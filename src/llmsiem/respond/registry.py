"""Response actions by name: the built-ins, and other packages' ``llmsiem.actions`` entry points.

A playbook step is an action class, or the registered name of one
(``steps=("revoke_key_local", "mypkg_quarantine")``); ``llmsiem respond actions`` lists them.
"""

from __future__ import annotations

from llmsiem.plugins import ACTIONS_GROUP, Registry

BUILTIN_ACTIONS = {
    "revoke_key_local": "llmsiem.respond.actions.local:RevokeKeyLocally",
    "block_user_local": "llmsiem.respond.actions.local:BlockUserLocally",
    "litellm_block_key": "llmsiem.respond.actions.http:LiteLLMKeyBlock",
    "litellm_block_customer": "llmsiem.respond.actions.http:LiteLLMCustomerBlock",
    "openai_delete_project_key": "llmsiem.respond.actions.http:OpenAIProjectKeyDelete",
    "langfuse_rollback_prompt": "llmsiem.respond.actions.http:LangfusePromptLabel",
    "keycloak_disable_user": "llmsiem.respond.actions.http:KeycloakUserDisable",
    "notify_webhook": "llmsiem.respond.actions.http:WebhookNotify",
    "mlflow_rollback_prompt_alias": (
        "llmsiem.respond.actions.mlflow_registry:MlflowPromptAliasRollback"
    ),
}
ACTIONS: Registry[type] = Registry(ACTIONS_GROUP, type, BUILTIN_ACTIONS)
