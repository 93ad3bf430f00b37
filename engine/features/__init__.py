"""Feature families: causal, vectorized functions of OHLCV bars."""
