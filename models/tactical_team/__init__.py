"""The tactical team: three actors (FVG, Momentum, Entry) over the 60 x 7 tactical matrix and a
centralised critic, trained with the shared MAPPO trainer (``models.mappo``).

``config`` (presets and the agents' attention priors), ``network`` (actors, critic, the team),
``export`` (the graph exported to ONNX), ``env`` (the accounts the trainer steps) and ``training``
(the training run: split, validation, model card). Inference needs only ``config`` and ``network``.
Design: docs/design.md, tactical team; docs/models.md, tactical team.
"""
