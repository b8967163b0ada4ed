"""Hooks that run inside other products (LiteLLM proxy) and consult llmsiem state."""
