"""Application layer: datasets and features for users, run specs and store, experiments, CLI."""

__version__ = "0.1.0"
