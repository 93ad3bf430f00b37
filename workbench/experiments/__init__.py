"""Experiments over run specs: stress, sweep, compare and walk-forward (one module each), with what they
share: statistics, per-regime results, folds, segments, variants, the single market path, executors
(local or Ray) and exports. See docs/experiments.md."""
