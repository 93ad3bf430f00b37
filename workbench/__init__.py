"""The application layer: what users run and keep.

``runs`` (run specs and the run kinds), ``store`` (the run store), ``experiments`` (stress, sweep,
compare, walk-forward), ``review`` (GO/NO-GO gates and report), ``paper`` (paper trading),
``policies`` (deciders by name, ONNX export, explanations), ``services`` (what the app and the demo
call: datasets, uploads, runs as tables, Ray training shards), ``cli`` and ``commands``.
"""

__version__ = "0.1.0"
