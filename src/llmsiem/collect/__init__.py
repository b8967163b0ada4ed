"""``llmsiem collect``: an OTLP/HTTP and LiteLLM-logger receiver feeding the one pipeline.

``otlp`` and ``litellm`` read request bodies, ``worker`` queues them and runs each batch
through the pipeline to the sinks (``fanout``) and the streaming engine, ``server`` is the
authenticated HTTP side.
"""
