"""What decides in a run: the baseline strategies (``baselines``), the trained networks as engine
policies (``neural``: the symbol agent, ``master``: the master agent; each on torch or ONNX), and the policy
families that load, observe, explain and export them (``family``: `Decider`, `PolicyFamily`;
``families``: the registry). The multi-agent teams have no policies yet (docs/design.md)."""
