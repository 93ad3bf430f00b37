"""Walk-forward: fold boundaries by hand, purge/embargo properties, stitching, optimization, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from workbench.experiments.folds import fold_layout, to_bars
from workbench.experiments.segments import rollout_segment
from workbench.experiments.single_path import load_single_path
from workbench.experiments.walkforward import run_walkforward, stability
from workbench.runs.backtest import run_backtest
from workbench.runs.evaluate import spec_decider
from workbench.runs.spec import RunSpec

BASE = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2010-01-01", end="2011-12-31")
LAYOUT = {"train": 120, "test": 60}


def spec(**changes) -> RunSpec:
    options = {**LAYOUT, **changes.pop("options", {})}
    values = {"kind": "walkforward", "strategy": "sma_cross", **BASE, **changes}
    return RunSpec(options=tuple(options.items()), **values)


def ranges(folds) -> list[tuple]:
    return [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds]


def test_rolling_folds_by_hand() -> None:
    folds = fold_layout(20, train=6, test=4, step=4, scheme="rolling", purge=1)
    assert ranges(folds) == [(0, 5, 7, 10), (4, 9, 11, 14), (8, 13, 15, 18)]
    assert all(f.train_ranges == ((f.train_start, f.train_end),) for f in folds)


def test_expanding_folds_start_at_bar_zero() -> None:
    folds = fold_layout(20, train=6, test=4, step=4, scheme="expanding", purge=1)
    assert ranges(folds) == [(0, 5, 7, 10), (0, 9, 11, 14), (0, 13, 15, 18)]


def test_embargo_cuts_the_bars_after_earlier_test_blocks() -> None:
    folds = fold_layout(20, train=6, test=4, step=4, scheme="rolling", purge=1, embargo=2)
    # fold 0 tests 7..10, so 11..12 are embargoed; fold 1 tests 11..14, so 15..16 are.
    assert folds[1].train_ranges == ((4, 9),)
    assert folds[2].train_ranges == ((8, 10), (13, 13))
    assert folds[2].train_bars().tolist() == [8, 9, 10, 13]
    assert folds[2].latest_train_run() == (13, 13)


def test_step_longer_than_test_leaves_gaps_and_unused_bars() -> None:
    folds = fold_layout(30, train=5, test=3, step=7)
    assert [(f.test_start, f.test_end) for f in folds] == [(5, 7), (12, 14), (19, 21), (26, 28)]


@settings(max_examples=200)
@given(n=st.integers(10, 300), train=st.integers(2, 60), test=st.integers(2, 30), extra=st.integers(0, 20),
       purge=st.integers(0, 10), embargo=st.integers(0, 15), scheme=st.sampled_from(["rolling", "expanding"]))
def test_no_test_or_purged_or_embargoed_bar_is_ever_trained_on(n, train, test, extra, purge, embargo, scheme) -> None:
    try:
        folds = fold_layout(n, train, test, test + extra, scheme, purge, embargo)
    except InvalidParameterError:
        assert train + purge + test > n or embargo > 0
        return
    tests = [set(range(f.test_start, f.test_end + 1)) for f in folds]
    for k, fold in enumerate(folds):
        trained = set(fold.train_bars().tolist())
        assert max(trained) <= fold.test_start - purge - 1  # the purge gap lies between
        assert not trained & set().union(*tests[k:])  # never its own or a later test block
        for j in range(k):  # never the embargo after an earlier block
            assert not trained & set(range(folds[j].test_end + 1, folds[j].test_end + embargo + 1))
        assert fold.train_start == (0 if scheme == "expanding" else fold.test_start - purge - train)
        assert fold.test_end - fold.test_start + 1 == test and fold.test_end < n
    assert all(b.test_start > a.test_end for a, b in zip(folds, folds[1:]))


def test_durations_convert_with_bars_per_year() -> None:
    assert to_bars("--train", "2Y", 252) == 504
    assert to_bars("--test", "6M", 252) == 126
    assert to_bars("--test", "4w", 252) == 19  # round(4 / 52 * 252)
    assert to_bars("--test", "10D", 252) == 10
    assert to_bars("--test", "126", 252) == 126 and to_bars("--test", 90, 252) == 90
    assert to_bars("--test", "1D", 252 * 7) == 7  # a trading day of hourly bars
    with pytest.raises(InvalidParameterError, match="--train '2X' is not a bar count or a duration"):
        to_bars("--train", "2X", 252)


@pytest.mark.parametrize("kwargs, match", [
    ({"train": 400, "test": 200}, "do not fit.*shorten --train/--test"),
    ({"purge": -1}, r"purge \(--purge\) -1 must be an integer >= 0"),
    ({"step": 10}, r"step \(--step\) 10 is shorter than test"),
    ({"scheme": "sliding"}, "rolling, expanding"),
    ({"train": 1}, r"train \(--train\) 1 must be an integer >= 2"),
])
def test_bad_fold_settings_name_the_option(kwargs: dict, match: str) -> None:
    settings_ = {"train": 100, "test": 50, "step": None, "scheme": "rolling", "purge": 0, "embargo": 0, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        fold_layout(500, **settings_)


def test_stitched_curve_chains_the_folds() -> None:
    result = run_walkforward(spec(fees=(0.001,)))
    summary = result.summary()
    folds = summary["folds"]
    assert len(folds) == 6 and summary["layout"]["unused_bars"] == summary["data"]["bars"] - 480
    assert folds[0]["start_equity"] == 100_000.0
    for before, after in zip(folds, folds[1:]):
        assert after["start_equity"] == before["final_equity"]
    equity = result.tables()["equity"]
    last_rows = equity.groupby("fold")["equity"].last().to_numpy()
    assert last_rows == pytest.approx([f["final_equity"] for f in folds], rel=1e-12)
    assert summary["oos"]["final_equity"] == pytest.approx(folds[-1]["final_equity"], rel=1e-12)
    assert len(equity) == summary["oos"]["bars"] == 6 * 60


def test_frozen_folds_are_the_backtest_over_each_test_block() -> None:
    result = run_walkforward(spec())
    backtest = run_backtest(spec().replace(kind="backtest", options=()))
    equity = backtest.rollout.equity[:, 0]
    for fold, row in zip(result.folds, result.summary()["folds"]):
        a, b = fold.fold.test_start, fold.fold.test_end
        assert row["total_return"] == pytest.approx(equity[b] / equity[a - 1] - 1, rel=1e-9)
    assert result.summary()["oos"]["total_return"] == pytest.approx(
        np.prod([equity[f.fold.test_end] / equity[f.fold.test_start - 1] for f in result.folds]) - 1, rel=1e-9)


def test_a_whole_run_as_one_segment_has_the_runs_metrics() -> None:
    path = load_single_path(spec(fees=(0.002,), slippage=(0.001,)))
    evaluation = path.run(spec_decider(spec()))
    expected = evaluation.metrics[0]
    got = rollout_segment(evaluation).metrics(100_000.0, path.data.frequency)
    for key in ("final_equity", "total_return", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration",
                "n_orders", "fees_paid", "exposure", "time_in_market", "turnover", "benchmark_return", "excess_return"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9), key
    assert got["win_rate"] is None and got["n_trades"] is None


def test_optimization_picks_the_best_train_sharpe_of_the_grid() -> None:
    grid = {"fast": [5, 10], "slow": [20, 40]}
    result = run_walkforward(spec(options={"retrain": True, "grid": grid, "scheme": "expanding"}))
    sharpes = {}
    for fast in (5, 10):
        for slow in (20, 40):
            bt = run_backtest(spec(strategy_params=(("fast", str(fast)), ("slow", str(slow)))).replace(
                kind="backtest", options=()))
            equity = bt.rollout.equity[:, 0]
            returns = np.concatenate([[0.0], equity[1:] / equity[:-1] - 1])
            sharpes[(str(fast), str(slow))] = returns
    for fold, row in zip(result.folds, result.summary()["folds"]):
        bars = fold.fold.train_bars()
        scores = {k: sharpe_ratio(r[bars], 252) for k, r in sharpes.items()}
        best = max(scores, key=scores.get)
        assert (row["params"]["fast"], row["params"]["slow"]) == best
        assert row["train_sharpe"] == pytest.approx(scores[best], rel=1e-9)
        assert row["train_start"] == "2010-01-04T00:00:00+00:00"  # expanding


def test_stability_by_hand() -> None:
    out = stability([1.0, -0.5, 0.25, None])
    values = np.array([1.0, -0.5, 0.25, 0.0])
    assert out["sharpe_mean"] == pytest.approx(values.mean())
    assert out["sharpe_std"] == pytest.approx(values.std(ddof=1))
    assert out["positive_fraction"] == 0.5 and out["worst_fold"] == {"fold": 1, "sharpe": -0.5}
    assert stability([0.3])["sharpe_std"] == 0.0


def test_summary_keys_and_record() -> None:
    result = run_walkforward(spec(options={"purge": 5, "embargo": 5}))
    summary = result.summary()
    folds = summary["folds"]
    assert isinstance(summary["oos"]["sharpe"], float)
    assert {"positive_fraction", "sharpe_std", "sharpe_mean", "worst_fold"} <= set(summary["stability"])
    assert {"fold", "train_start", "train_end", "test_start", "test_end", "sharpe", "max_drawdown"} <= set(folds[0])
    assert summary["stability"]["sharpe_std"] == pytest.approx(np.std([f["sharpe"] for f in folds], ddof=1))
    assert summary["spec"]["options"]["purge"] == 5 and summary["spec"]["options"]["scheme"] == "rolling"
    record = result.to_record(["wf"])
    assert record.kind == "walkforward" and record.run_id == summary["run_id"] and record.tags == ("wf",)
    assert set(record.tables) == {"equity", "fold_metrics"} and len(record.tables["fold_metrics"]) == len(folds)


def test_same_spec_same_result() -> None:
    a = run_walkforward(spec(options={"retrain": True, "grid": {"fast": [5, 10]}})).summary()
    b = run_walkforward(spec(options={"retrain": True, "grid": {"fast": [5, 10]}})).summary()
    assert a == b


@pytest.mark.parametrize("changes, match", [
    ({"options": {"retrain": True, "grid": {"fsat": [5]}}}, r"--grid fsat: .*Did you mean 'fast'"),
    ({"options": {"train": 500}}, "do not fit"),
    ({"options": {"embargo": -2}}, r"embargo \(--embargo\) -2"),
    ({"options": {"windows": 3}}, "option 'windows' is unknown"),
    ({"strategy": None, "policy": "symbol-agent-compact-stocks", "options": {"grid": {"fast": [5]}}},
     "grid .* searches a strategy"),
])
def test_bad_input_is_a_typed_error(changes: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        run_walkforward(spec(**changes))


@pytest.fixture
def one_torch_thread():
    """Tiny networks on a shared machine: torch's thread pool costs more than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_retraining_a_policy_per_fold(one_torch_thread) -> None:
    result = run_walkforward(RunSpec(
        kind="walkforward", policy="symbol-agent-compact-stocks", data="stocks", symbols=("AAPL", "MSFT"),
        start="2006-01-01", end="2011-03-31", seed=3,  # a window must hold feature warm-up + one episode
        options=(("train", 700), ("test", 300), ("retrain", True), ("timesteps", 256))))
    summary = result.summary()
    assert len(summary["folds"]) == 2
    for fold in summary["folds"]:
        training = fold["training"]
        assert training["train_start"] >= fold["train_start"] and training["validation_end"] == fold["train_end"]
        assert training["validation_end"] < fold["test_start"]
        assert len(training["weights_sha256"]) == 64
    assert summary["folds"][1]["start_equity"] == summary["folds"][0]["final_equity"]
    assert np.isfinite(summary["oos"]["sharpe"])
