"""Torch networks and what surrounds them, built on `engine`.

``symbol_agent``, ``master_agent`` and ``tactical_team`` (each network with its training), ``mappo``
(the multi-agent PPO trainer the teams share), ``initialization`` (heads and
the check of a fresh network), ``checkpoint`` (safetensors weights, model card, normalizer),
``spec`` (the observation and action a checkpoint must match), ``onnx_export`` (export with a parity
report), ``devices`` and ``training_log``. See docs/models.md.
"""
