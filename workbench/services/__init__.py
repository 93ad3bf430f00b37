"""What the app, the demo and training call on: ``app`` (stored runs as tables and curves, baselines,
prices, jobs), ``datasets`` (datasets as users name them), ``uploads`` (data and policy files from the
browser), ``demo`` (``workbench demo``'s runs) and ``ray_training`` (training shards in Ray actors)."""
