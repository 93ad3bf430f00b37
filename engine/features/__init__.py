"""Feature families: causal, vectorized functions of OHLCV bars (the value at bar t reads bars 0..t).

The symbol agent's blocks (``technical``, ``regime_block``); the teams' families (``mlmi``, ``nwrqk``,
``fvg``, ``lvn``, ``mmd``) and their matrices (``matrices``); the feature matrix of ``workbench
features`` (``build``); normalization (``normalize``); rows streamed bar by bar for paper trading
(``streaming``); shared helpers (``rolling``, ``indicators``, ``tail``, ``_ohlcv``). Formulas:
docs/features.md.
"""
