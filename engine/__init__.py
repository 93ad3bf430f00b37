"""Market simulation layer: data, features, regimes and (later) execution kernels.

`engine` imports nothing else from this project; every other layer builds on it.
"""
from engine.paths import configure_numba_cache

configure_numba_cache()
