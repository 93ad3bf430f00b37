"""The symbol agent: a transformer feature encoder and a masked actor-critic over seven actions.

``encoder`` (the observation's tokens and the transformer), ``network`` (actor-critic, presets, the
checkpoint builder), ``export`` (the graph exported to ONNX), ``sb3_policy`` and ``sb3_import``
(stable-baselines3 adapters), ``training`` (MaskablePPO on the engine's environments). Inference needs
only ``encoder`` and ``network``. The specification it follows: docs/design.md, symbol agent.
"""
