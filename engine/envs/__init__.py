"""Training environments over the engine's kernels: single, natively vectorized, and multi-agent.

- :mod:`.stepper`: `KernelStepper` (the rollout's bar loop, one bar per call);
- :mod:`.episode`: `EpisodeConfig` (episode start and length); :mod:`.sources`: what is traded;
- :mod:`.trading_env`: `TradingEnvironment` (gymnasium, one symbol, seven masked actions);
- :mod:`.vector_env`: `TradingVectorEnv` (gymnasium ``VectorEnv``) and `SB3VecEnv`;
- :mod:`.sharded`: `ShardedVecEnv` (training accounts cut into shards, e.g. one per Ray actor);
- :mod:`.marl_env`: `MarlTradingEnv` (PettingZoo ``ParallelEnv``, tactical and strategic presets).

Import the module you need: this package does not import them eagerly (the SB3 adapter pulls in torch).
"""
