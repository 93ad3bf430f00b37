"""The simulation layer; it imports nothing else from this project, and every other layer builds on it.

- Inputs: :mod:`.data` (market data, datasets, user files), :mod:`.features`, :mod:`.regimes`,
  :mod:`.stress_periods`, :mod:`.scenarios` (price paths with per-scenario costs and limits).
- Market rules, written once: :mod:`.actions` (action spaces), :mod:`.execution` and :mod:`.risk`
  (the fill and risk kernels), :mod:`.bar_loop`, :mod:`.rollout` and :mod:`.simulate` (batched
  runs), :mod:`.live` (one account bar by bar, for paper trading).
- What a policy reads and earns: :mod:`.policy` (the protocol), :mod:`.observation`,
  :mod:`.live_observation`, :mod:`.tactical_observation`, :mod:`.votes` (how a team's votes join),
  :mod:`.rewards`, :mod:`.envs` (gymnasium and PettingZoo environments).
- Results: :mod:`.metrics`, :mod:`.portfolio` (the vectorbt bridge), :mod:`.decision_tables`.
- Plumbing: :mod:`.errors`, :mod:`.names`, :mod:`.atomic_files`, :mod:`.paths`, :mod:`.yaml_files`.
"""
from engine.paths import configure_numba_cache

configure_numba_cache()
