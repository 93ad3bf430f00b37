"""Paper trading: a policy trades a live or replayed feed through the backtest's kernels, durably.

The app and the CLI use this API (see docs/paper.md):

* :func:`start_paper` runs a session (``workbench paper start``);
* :func:`paper_status` reads its state; :func:`request_stop`, :func:`request_kill` and
  :func:`request_resume` control it from another process;
* :func:`export_ledger` writes its orders, fills and equity as CSV.
"""
from workbench.paper.control import nothing_requested, paper_status, request_kill, request_resume, request_stop
from workbench.paper.ledger import export_ledger, ledger_arrays, session_series
from workbench.paper.session import StartOptions, StartResult, start_paper

__all__ = ["StartOptions", "StartResult", "export_ledger", "ledger_arrays", "nothing_requested", "paper_status",
           "request_kill", "request_resume", "request_stop", "session_series", "start_paper"]
