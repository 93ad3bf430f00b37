"""Issue 16 item 7: a bad-value corpus for every command but the data ones (those are in
``test_cli_data_bad_values.py``).

Every case gives a command NaN, inf, a huge or negative number, an empty or wrongly typed value, an
impossible date, a spec file with the wrong shapes, an output path that cannot be one, or an edited
model card. Each must end with exit status 2 and one line on stderr that starts with ``error:``,
never a traceback: the CLI runs in-process (``workbench.cli.main``), so an exception that would
print one fails the test itself. The errors fire before any heavy work, so each case is cheap.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.policies import shipped_policies

BACKTEST = ["backtest", "--data", "sp500", "--start", "2008-01-01", "--end", "2008-03-31", "--no-store"]
PERIOD = ["--data", "stocks", "--symbols", "AAPL,MSFT", "--start", "2010-01-01", "--end", "2010-12-31"]
SMA = ["--strategy", "sma_cross"]
PAPER = ["paper", "start", "--feed", "replay:stocks:AAPL", "--start", "2010-01-01", "--end", "2010-03-31"]
SYMBOL_AGENT = "symbol-agent-compact-stocks"
MASTER_AGENT = "master-agent-compact-stocks"
FOLDS = ["--train", "120", "--test", "60", "--retrain"]
TRAIN = ["train", "symbol-agent", "--data", "stocks", "--symbols", "AAPL,MSFT"]
TRAIN_MASTER = ["train", "master-agent", "--symbol-agent", SYMBOL_AGENT]

SPECS = {
    "fees-scalar-nan": "data: stocks\nstrategy: sma_cross\nfees: .nan\n",
    "symbols-number": "data: stocks\nstrategy: sma_cross\nsymbols: 5\n",
    "impossible-date": "data: stocks\nstrategy: sma_cross\nstart: 2012-02-30\n",
    "impossible-month": "data: stocks\nstrategy: sma_cross\nend: 2010-13-01\n",
    "fees-list-inf": "data: stocks\nstrategy: sma_cross\nfees: [0, .inf]\n",
    "params-nan": "data: stocks\nstrategy: sma_cross\nstrategy_params: {fast: .nan}\n",
    "seed-float": "data: stocks\nstrategy: sma_cross\nseed: 1.5\n",
    "seed-huge": "data: stocks\nstrategy: sma_cross\nseed: 99999999999999999999999\n",
    "cash-text": "data: stocks\nstrategy: sma_cross\ncash: abc\n",
    "risk-scalar": "data: stocks\nstrategy: sma_cross\nrisk: 5\n",
    "risk-inf": "data: stocks\nstrategy: sma_cross\nrisk: {stop_loss: .inf}\n",
    "a-list": "- data\n- stocks\n",
    "data-list": "data: [1, 2]\nstrategy: sma_cross\n",
    "fees-mapping": "data: stocks\nstrategy: sma_cross\nfees: {a: 1}\n",
}

# id, argv (``{tmp}``: the test's folder with ``file.txt``, ``full/`` (not empty) and the spec
# files; ``{run}``: a stored run; ``{card:NAME}``: a copy of the shipped symbol agent whose card
# was edited as CARDS[NAME] says), a piece of the expected message.
CASES = [
    # strategy parameters: backtest, compare --variants, walkforward --grid, paper
    ("backtest-param-nan", [*BACKTEST, *SMA, "--param", "fast=nan"], "fast='nan' is not a finite number"),
    ("backtest-param-inf", [*BACKTEST, *SMA, "--param", "fast=inf"], "is not a finite number"),
    ("backtest-param-overflow", [*BACKTEST, *SMA, "--param", "slow=1e400"], "is not a finite number"),
    ("backtest-param-huge", [*BACKTEST, *SMA, "--param", "slow=99999999999999999999999"], "slow must be an integer"),
    ("backtest-param-negative-seed", [*BACKTEST, "--strategy", "random", "--param", "seed=-1"],
     "seed must be an integer from 0"),
    ("backtest-param-empty", [*BACKTEST, *SMA, "--param", "fast="], "is not a number"),
    ("backtest-param-text", [*BACKTEST, "--strategy", "momentum", "--param", "lookback=abc"], "is not a number"),
    ("backtest-param-fraction", [*BACKTEST, *SMA, "--param", "fast=2.5"], "must be a whole number"),
    ("backtest-cash-nan", [*BACKTEST, "--strategy", "buy_and_hold", "--cash", "nan"], "not a finite number"),
    ("backtest-cash-overflow", [*BACKTEST, "--strategy", "buy_and_hold", "--cash", "1e400"], "not a finite number"),
    ("backtest-cash-negative", [*BACKTEST, "--strategy", "buy_and_hold", "--cash", "-5"], "outside its domain"),
    ("backtest-fees-inf", [*BACKTEST, "--strategy", "buy_and_hold", "--fees", "0,inf"], "not a finite number"),
    ("backtest-fees-empty", [*BACKTEST, "--strategy", "buy_and_hold", "--fees", ""], "is not a number"),
    ("backtest-slippage-range", [*BACKTEST, "--strategy", "buy_and_hold", "--slippage", "2"], "outside its domain"),
    ("backtest-impossible-date", ["backtest", "--strategy", "buy_and_hold", "--data", "sp500", "--start",
                                  "2012-02-30", "--no-store"], "day is out of range for month"),
    ("backtest-symbols-empty", [*BACKTEST, "--strategy", "buy_and_hold", "--symbols", ""], "names no symbol"),
    ("backtest-data-empty", ["backtest", "--strategy", "buy_and_hold", "--data", "", "--no-store"],
     "must name a dataset"),
    ("backtest-synthetic-seed", ["backtest", "--strategy", "buy_and_hold", "--data", "synthetic-hourly:seed=-1",
                                 "--no-store"], "synthetic seed must be an integer >= 0"),
    ("backtest-synthetic-nan", ["backtest", "--strategy", "buy_and_hold", "--data",
                                "synthetic-hourly:start_price=nan", "--no-store"], "start_price must be in"),
    ("backtest-synthetic-huge", ["backtest", "--strategy", "buy_and_hold", "--data",
                                 "synthetic-5min:n_symbols=5000,start=1990-01-01", "--no-store"],
     "more than 50_000_000 prices"),
    ("compare-variants-nan", ["compare", *SMA, *PERIOD, "--variants", "fast=nan"], "--variants fast='nan'"),
    ("compare-variants-inf", ["compare", *SMA, *PERIOD, "--variants", "fast=inf,10"], "is not a finite number"),
    ("compare-variants-overflow", ["compare", *SMA, *PERIOD, "--variants", "slow=1e400"], "is not a finite number"),
    ("compare-variants-negative-seed", ["compare", "--strategy", "random", *PERIOD, "--variants", "seed=-1"],
     "every variant is rejected"),
    ("compare-variants-empty", ["compare", *SMA, *PERIOD, "--variants", "fast="], "lists no values"),
    ("compare-n-boot-huge", ["compare", *SMA, *PERIOD, "--n-boot", "99999999999999999999"], "n_boot"),
    ("compare-n-boot-negative", ["compare", *SMA, *PERIOD, "--n-boot", "-1"], "n_boot"),
    ("compare-confidence-nan", ["compare", *SMA, *PERIOD, "--confidence", "nan"], "confidence"),
    ("compare-block-inf", ["compare", *SMA, *PERIOD, "--block", "inf"], "mean_block"),
    ("compare-pbo-odd", ["compare", *SMA, *PERIOD, "--pbo-blocks", "3"], "pbo_blocks"),
    ("compare-seed-negative", ["compare", *SMA, *PERIOD, "--seed", "-1"], "seed"),
    ("compare-fees-list", ["compare", *SMA, *PERIOD, "--fees", "0,0.1"], "one cost point"),
    ("walkforward-grid-nan", ["walkforward", *SMA, *PERIOD, *FOLDS, "--grid", "fast=nan"],
     "--grid fast='nan' is not a finite number"),
    ("walkforward-grid-inf", ["walkforward", *SMA, *PERIOD, *FOLDS, "--grid", "fast=inf"],
     "is not a finite number"),
    ("walkforward-grid-overflow", ["walkforward", *SMA, *PERIOD, *FOLDS, "--grid", "slow=1e400"],
     "is not a finite number"),
    ("walkforward-grid-negative-seed", ["walkforward", "--strategy", "random", *PERIOD, *FOLDS, "--grid",
                                        "seed=-1"], "every point of the walk-forward grid is rejected"),
    ("walkforward-train-nan", ["walkforward", *SMA, *PERIOD, "--train", "nan"], "is not a bar count"),
    ("walkforward-train-huge", ["walkforward", *SMA, *PERIOD, "--train", "99999999Y"], "do not fit"),
    ("walkforward-train-negative", ["walkforward", *SMA, *PERIOD, "--train", "-5"], "train"),
    ("walkforward-purge-negative", ["walkforward", *SMA, *PERIOD, "--purge", "-1"], "purge"),
    ("walkforward-timesteps-huge", ["walkforward", *SMA, *PERIOD, "--timesteps", "99999999999999999999"],
     "timesteps"),
    ("stress-bootstrap-huge", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--bootstrap", "99999999999"],
     "n_bootstrap"),
    ("stress-block-nan", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--block", "nan"], "block"),
    ("stress-shock-inf", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--shocks", "gap:inf"],
     "magnitude out of range"),
    ("stress-shock-at-impossible", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--shock-at", "2012-02-30"],
     "day is out of range"),
    ("stress-shock-bars-negative", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--shock-bars", "-3"],
     "shock_bars"),
    ("stress-chunks-huge", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--chunks", "99999999999999999999"],
     "chunks"),
    ("stress-symbols-empty", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--symbols", ""], "names no symbol"),
    ("sweep-grid-nan", ["sweep", "--strategy", "buy_and_hold", *PERIOD, "--grid", "stop_loss=nan"],
     "not a finite number"),
    ("sweep-grid-huge", ["sweep", "--strategy", "buy_and_hold", *PERIOD, "--grid",
                         "cooldown_bars=99999999999999999999"], "outside its domain"),
    ("sweep-grid-negative", ["sweep", "--strategy", "buy_and_hold", *PERIOD, "--grid", "cooldown_bars=-1"],
     "outside its domain"),
    ("sweep-grid-empty", ["sweep", "--strategy", "buy_and_hold", *PERIOD, "--grid", "stop_loss="], "empty"),
    ("sweep-position-limit-inf", ["sweep", "--strategy", "buy_and_hold", *PERIOD, "--position-limit", "inf"],
     "not a finite number"),
    ("sweep-worst-huge", ["sweep", "--strategy", "buy_and_hold", *PERIOD, "--worst", "99999999999999999999"],
     "worst"),
    ("paper-param-nan", [*PAPER, *SMA, "--param", "fast=nan", "--state", "{tmp}/p"], "is not a finite number"),
    ("paper-param-inf", [*PAPER, *SMA, "--param", "fast=inf", "--state", "{tmp}/p"], "is not a finite number"),
    ("paper-param-overflow", [*PAPER, *SMA, "--param", "slow=1e400", "--state", "{tmp}/p"], "not a finite number"),
    ("paper-param-negative-seed", [*PAPER, "--strategy", "random", "--param", "seed=-1", "--state", "{tmp}/p"],
     "seed must be an integer from 0"),
    ("paper-fees-nan", [*PAPER, "--strategy", "buy_and_hold", "--fees", "nan", "--state", "{tmp}/p"], "fees"),
    ("paper-cash-inf", [*PAPER, "--strategy", "buy_and_hold", "--cash", "inf", "--state", "{tmp}/p"], "cash"),
    ("paper-speed-nan", [*PAPER, "--strategy", "buy_and_hold", "--speed", "nan", "--state", "{tmp}/p"], "--speed"),
    ("paper-stale-negative", [*PAPER, "--strategy", "buy_and_hold", "--stale-after", "-1", "--state", "{tmp}/p"],
     "--stale-after"),
    ("paper-symbols-empty", [*PAPER, "--strategy", "buy_and_hold", "--symbols", "", "--state", "{tmp}/p"],
     "names no symbol"),
    ("paper-synthetic-seed", ["paper", "start", "--strategy", "buy_and_hold", "--feed", "synthetic:seed=-1",
                              "--state", "{tmp}/p"], "synthetic seed"),
    ("paper-impossible-date", ["paper", "start", "--strategy", "buy_and_hold", "--feed", "replay:stocks:AAPL",
                               "--start", "2012-02-30", "--state", "{tmp}/p"], "day is out of range"),
    ("paper-risk-impossible-date", [*PAPER, "--strategy", "buy_and_hold", "--risk", "{tmp}/impossible-date.yaml",
                                    "--state", "{tmp}/p"], "is not a date"),
    ("paper-status-on-a-file", ["paper", "status", "--state", "{tmp}/file.txt"], "no journal"),
    # run store, review, models, features, app
    ("runs-limit-huge", ["runs", "list", "--limit", "99999999999999999999"], "limit"),
    ("runs-limit-negative", ["runs", "list", "--limit", "-1"], "limit"),
    ("runs-limit-nan", ["runs", "list", "--limit", "nan"], "invalid int value"),
    ("runs-kind-empty", ["runs", "list", "--kind", ""], "--kind '' is empty"),
    ("runs-tag-malformed", ["runs", "list", "--tag", "bad tag"], "tag 'bad tag'"),
    ("runs-show-empty", ["runs", "show", ""], "is not a run id"),
    ("runs-show-path", ["runs", "show", "../../etc"], "is not a run id"),
    ("runs-tag-empty", ["runs", "tag", "{run}", ""], "tag ''"),
    ("review-canary-huge", ["review", "{run}", "--out", "{tmp}/r.html", "--canary-bars", "99999999999999999999"],
     "--canary-bars"),
    ("review-canary-negative", ["review", "{run}", "--out", "{tmp}/r.html", "--canary-bars", "-1"],
     "--canary-bars"),
    ("review-reviewer-empty", ["review", "{run}", "--out", "{tmp}/r.html", "--reviewer", "", "--no-canary"],
     "--reviewer '' is empty"),
    ("review-gates-impossible-date", ["review", "{run}", "--out", "{tmp}/r.html", "--gates",
                                      "{tmp}/impossible-date.yaml", "--no-canary"], "is not a date"),
    ("models-unknown-action", ["models", "nope"], "invalid choice"),
    ("features-impossible-date", ["features", "stocks", "--out", "{tmp}/f.parquet", "--start", "2012-02-30"],
     "day is out of range"),
    ("features-end-nan", ["features", "stocks", "--out", "{tmp}/f.parquet", "--end", "nan"], "is not a date"),
    ("features-symbol-empty", ["features", "stocks", "--out", "{tmp}/f.parquet", "--symbol", ""], "empty symbol"),
    ("features-unknown-zone", ["features", "stocks", "--out", "{tmp}/f.parquet", "--tz", "Nowhere/Bogus"],
     "unknown time zone"),
    ("app-port-nan", ["app", "--port", "nan"], "invalid int value"),
    ("app-port-huge", ["app", "--port", "99999999999999999999"], "must be between 1 and 65535"),
    ("app-port-negative", ["app", "--port", "-1"], "must be between 1 and 65535"),
    ("app-address-empty", ["app", "--address", ""], "--address is empty"),
    ("demo-port-zero", ["demo", "--port", "0"], "must be between 1 and 65535"),
    # training (every error before the data is read or a network built)
    ("train-timesteps-huge", [*TRAIN, "--out", "{tmp}/t", "--timesteps", "99999999999999999999"], "timesteps"),
    ("train-accounts-huge", [*TRAIN, "--out", "{tmp}/t", "--accounts", "99999999999999"], "accounts"),
    ("train-accounts-zero", [*TRAIN, "--out", "{tmp}/t", "--accounts", "0"], "accounts"),
    ("train-rollout-huge", [*TRAIN, "--out", "{tmp}/t", "--accounts", "4096", "--n-steps", "100000"],
     "a rollout of 4096 accounts"),
    ("train-seed-huge", [*TRAIN, "--out", "{tmp}/t", "--seed", "99999999999999999999999"], "seed"),
    ("train-seed-negative", [*TRAIN, "--out", "{tmp}/t", "--seed", "-1"], "seed"),
    ("train-epochs-huge", [*TRAIN, "--out", "{tmp}/t", "--n-epochs", "99999999999999999"], "n_epochs"),
    ("train-eval-negative", [*TRAIN, "--out", "{tmp}/t", "--eval-every", "-5"], "eval_every"),
    ("train-period-impossible", [*TRAIN, "--out", "{tmp}/t", "--train", "2012-02-30:2013-01-01"], "is not a date"),
    ("train-val-empty", [*TRAIN, "--out", "{tmp}/t", "--val", ""], "is not START:END"),
    ("train-symbols-empty", ["train", "symbol-agent", "--data", "stocks", "--symbols", "", "--out", "{tmp}/t"],
     "names no symbol"),
    ("train-master-episode-huge", [*TRAIN_MASTER, "--out", "{tmp}/t", "--episode-length", "99999999999999999"],
     "episode_length"),
    ("train-master-seed-huge", [*TRAIN_MASTER, "--out", "{tmp}/t", "--seed", "99999999999999999999"], "seed"),
    ("train-master-symbols-empty", [*TRAIN_MASTER, "--out", "{tmp}/t", "--symbols", ""], "names no symbol"),
    ("export-symbols-empty", ["export", "onnx", SYMBOL_AGENT, "--out", "{tmp}/x.onnx", "--symbols", ""],
     "names no symbol"),
]
CASES += [(f"spec-{name}", ["compare", "--spec", f"{{tmp}}/{name}.yaml"], "") for name in SPECS]

# Unusable output paths: a file, a folder, a path under a file, a folder that is not empty or
# does not exist (review), a place that cannot be written into.
OUTPUTS = [
    ("backtest-export-a-file", [*BACKTEST, "--strategy", "buy_and_hold", "--export", "{tmp}/file.txt"],
     "exists and is not a folder"),
    ("backtest-export-under-a-file", [*BACKTEST, "--strategy", "buy_and_hold", "--export", "{tmp}/file.txt/x"],
     "is not a folder"),
    ("backtest-export-unwritable", [*BACKTEST, "--strategy", "buy_and_hold", "--export", "{locked}/x"],
     "cannot write"),
    ("compare-export-under-a-file", ["compare", *SMA, *PERIOD, "--export", "{tmp}/file.txt/x"], "is not a folder"),
    ("stress-export-a-file", ["stress", "--strategy", "buy_and_hold", *PERIOD, "--export", "{tmp}/file.txt"],
     "exists and is not a folder"),
    ("walkforward-export-unwritable", ["walkforward", *SMA, *PERIOD, "--export", "{locked}/x"], "cannot write"),
    ("runs-export-a-file", ["runs", "export", "{run}", "--out", "{tmp}/file.txt"], "exists and is not a folder"),
    ("runs-export-not-empty", ["runs", "export", "{run}", "--out", "{tmp}/full"], "is not empty"),
    ("runs-export-under-a-file", ["runs", "export", "{run}", "--out", "{tmp}/file.txt/x"], "is not a folder"),
    ("runs-export-unwritable", ["runs", "export", "{run}", "--out", "{locked}/x"], "cannot write"),
    ("review-out-a-folder", ["review", "{run}", "--out", "{tmp}", "--no-canary"], "is a folder"),
    ("review-out-missing-folder", ["review", "{run}", "--out", "{tmp}/missing/r.html", "--no-canary"],
     "the folder {tmp}/missing does not exist"),
    ("review-out-under-a-file", ["review", "{run}", "--out", "{tmp}/file.txt/r.html", "--no-canary"],
     "is not a folder"),
    ("review-out-unwritable", ["review", "{run}", "--out", "{locked}/r.html", "--no-canary"], "cannot write"),
    ("paper-state-a-file", [*PAPER, "--strategy", "buy_and_hold", "--state", "{tmp}/file.txt"],
     "exists and is not a folder"),
    ("paper-state-another-folder", [*PAPER, "--strategy", "buy_and_hold", "--state", "{tmp}/full"],
     "and no paper session"),
    ("paper-state-under-a-file", [*PAPER, "--strategy", "buy_and_hold", "--state", "{tmp}/file.txt/s"],
     "is not a folder"),
    ("paper-state-unwritable", [*PAPER, "--strategy", "buy_and_hold", "--state", "{locked}/s"], "cannot write"),
    ("paper-export-a-file", ["paper", "export", "--state", "{tmp}/p", "--out", "{tmp}/file.txt"],
     "exists and is not a folder"),
    ("paper-export-under-a-file", ["paper", "export", "--state", "{tmp}/p", "--out", "{tmp}/file.txt/x"],
     "is not a folder"),
    ("export-onnx-a-folder", ["export", "onnx", SYMBOL_AGENT, "--out", "{tmp}"], "is a folder"),
    ("export-onnx-under-a-file", ["export", "onnx", SYMBOL_AGENT, "--out", "{tmp}/file.txt/x.onnx"],
     "is not a folder"),
    ("train-out-under-a-file", [*TRAIN, "--out", "{tmp}/file.txt/t"], "is not a folder"),
    ("train-out-unwritable", [*TRAIN, "--out", "{locked}/t"], "cannot write"),
    ("features-out-under-a-file", ["features", "stocks", "--out", "{tmp}/file.txt/f.parquet"], "is not a folder"),
    ("features-out-unwritable", ["features", "stocks", "--out", "{locked}/f.parquet"], "cannot write"),
]

# Edited model cards of a copy of the shipped symbol agent (the master agent's for ``master-*``).
CARDS = {
    "huge-width": lambda card: card["config"]["agent"]["encoder"].update(d_model=10**7, n_heads=1),
    "many-layers": lambda card: card["config"]["agent"]["encoder"].update(n_layers=10**9),
    "plausible-other-width": lambda card: card["config"]["agent"]["encoder"].update(d_model=4096, n_heads=4),
    "hidden-text": lambda card: card["config"]["agent"].update(actor_hidden="abc"),
    "hidden-number": lambda card: card["config"]["agent"].update(actor_hidden=5),
    "no-agent": lambda card: card["config"].pop("agent"),
    "config-list": lambda card: card.update(config=[1]),
    "seed-text": lambda card: card.update(seed="x"),
    "export-text": lambda card: card.update(export="x"),
    "period-number": lambda card: card.update(train_period=5),
    "no-architecture": lambda card: card.pop("architecture"),
    "metrics-list": lambda card: card.update(validation_metrics=[1]),
    "card-a-list": lambda card: None,  # the file holds [1, 2] instead
    "master-no-action-space": lambda card: card["config"].pop("action_space"),
    "master-threshold-nan": lambda card: card["config"]["action_space"].update(threshold=float("nan")),
    "master-huge-width": lambda card: card["config"]["master"].update(d_model=10**7),
}
CARD_COMMANDS = [
    ("backtest", [*BACKTEST, "--policy", "{card}"]),
    ("paper", [*PAPER, "--policy", "{card}", "--state", "{tmp}/p"]),
    ("export", ["export", "onnx", "{card}", "--out", "{tmp}/x.onnx"]),
]


@pytest.fixture(scope="module")
def stored_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A WORKBENCH_HOME holding one small stored backtest, and its run id."""
    home = tmp_path_factory.mktemp("stored_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(home))
        assert main(["backtest", "--strategy", "buy_and_hold", "--data", "sp500", "--start", "2008-01-01",
                     "--end", "2008-03-31", "--json"]) == 0
        from workbench.store import RunStore

        with RunStore.open(home) as store:
            [info] = store.list_runs()
    return home, info.run_id


@pytest.fixture
def places(tmp_path: Path, stored_home, monkeypatch) -> dict[str, str]:
    """What the cases' placeholders stand for."""
    home, run_id = stored_home
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    (tmp_path / "file.txt").write_text("not a folder\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other.txt").write_text("something else\n")
    for name, text in SPECS.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return {"tmp": str(tmp_path), "run": run_id}


def expand(argv: list[str], places: dict[str, str]) -> list[str]:
    return [word.format(**places) for word in argv]


def assert_one_line_error(argv: list[str], expected: str, capsys: pytest.CaptureFixture) -> str:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, f"{argv} exited {code}: {err}"
    assert err.count("\n") == 1 and err.startswith("error: "), f"{argv} printed {err!r}"
    assert "Traceback" not in err and expected in err, f"{argv}: {expected!r} not in {err!r}"
    return err


@pytest.mark.parametrize("case, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_issue16_bad_values_give_one_line_errors(places, capsys, case, argv, expected) -> None:
    assert_one_line_error(expand(argv, places), expected.format(**places), capsys)


@pytest.mark.parametrize("case, argv, expected", OUTPUTS, ids=[c[0] for c in OUTPUTS])
def test_issue16_unusable_outputs_give_one_line_errors(places, tmp_path: Path, capsys, case, argv,
                                                       expected) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    if "{locked}" in " ".join(argv):
        if os.geteuid() == 0:  # root writes into any folder; /proc takes no new entries from anyone
            locked = Path("/proc")
        else:
            locked.chmod(0o555)
    try:
        assert_one_line_error(expand(argv, {**places, "locked": str(locked)}), expected.format(**places), capsys)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert not (tmp_path / "missing").exists()  # review --out creates no folder
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["other.txt"]


@pytest.mark.parametrize("edit", sorted(CARDS))
@pytest.mark.parametrize("command, argv", CARD_COMMANDS, ids=[c[0] for c in CARD_COMMANDS])
def test_issue16_edited_model_cards_are_refused_before_a_network_is_built(places, tmp_path: Path, capsys,
                                                                         edit, command, argv) -> None:
    shipped = shipped_policies()[MASTER_AGENT if edit.startswith("master-") else SYMBOL_AGENT]
    folder = tmp_path / "edited"
    shutil.copytree(shipped, folder)
    card = json.loads((folder / "model_card.json").read_text())
    CARDS[edit](card)
    text = "[1, 2]" if edit == "card-a-list" else json.dumps(card)
    (folder / "model_card.json").write_text(text)
    assert_one_line_error(expand(argv, {**places, "card": str(folder)}), str(folder), capsys)
