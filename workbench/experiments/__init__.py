"""Experiments over run specs: stress, sweep, compare, walk-forward, and their statistics."""
