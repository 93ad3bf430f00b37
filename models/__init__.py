"""Torch networks and what surrounds them, built on `engine`.

``symbol_agent`` and ``master_agent`` (each network with its training), ``initialization`` (heads and
the check of a fresh network), ``checkpoint`` (safetensors weights, model card, normalizer),
``spec`` (the observation and action a checkpoint must match), ``onnx_export`` (export with a parity
report), ``devices`` and ``training_log``. See docs/models.md.
"""
