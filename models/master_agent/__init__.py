"""The master (portfolio) agent: target weights over symbols and cash from frozen symbol embeddings.

``network`` (the attention-pooling agent), ``policy_network`` (frozen encoder + agent + the
logistic-normal action distribution, what a checkpoint holds), ``export`` (the graph exported to
ONNX), ``config``, ``env``, ``ppo`` and ``training`` (its PPO trainer). Inference needs only
``network`` and ``policy_network``. Design: docs/design.md, master agent.
"""
