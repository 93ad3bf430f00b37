"""Runs, declared once per kind: each kind is one module here and one line in
``registry.RUN_KINDS``.

A run is a spec (``spec.RunSpec``) run by its kind (``kind.RunKind``) into a stored record. The
kinds are backtest, stress, sweep, compare, walk-forward and paper session; everything that needs
to know what a kind stores, headlines, gates, reports or shows asks ``registry.run_kind``. Beside them:
``evaluate`` (the steps every run shares: decider, data, batch, rollout, metrics, run id),
``tables`` (the tables every kind stores in one shape), ``views`` (stored runs as the app shows
them) and the report's pieces (``report_html``, ``report_plots``).
"""
