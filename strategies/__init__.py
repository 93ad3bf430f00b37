"""What decides in a run: the baseline strategies (``baselines``), the trained networks as engine
policies (``neural``: the symbol agent, ``master``: the master agent, ``tactical``: the tactical team;
each on torch or ONNX), and the policy families that load, observe, explain and export them (``family``:
`Decider`, `PolicyFamily`; ``families``: the registry). The strategic team and the shared policy have no
policies yet (docs/design.md)."""
