"""ScenarioBatch and its builders: shapes, path ids, padding, windows, crossing, combining."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.market import FIELDS, MarketData
from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from engine.scenarios import (
    ScenarioBatch,
    ScenarioParams,
    combine,
    cross_params,
    from_market,
    from_paths,
    historical_windows,
    overnight_gap,
    parameter_grid,
)
from engine.stress_periods import STRESS_PERIODS
from tests.engine.scenarios.paths import make_path, market_data, random_path

GRID = parameter_grid(fees=[0, 0.001], slippage=[0, 0.0005])


@pytest.fixture(scope="module")
def data() -> MarketData:
    return market_data(random_path(30, n_symbols=2, seed=1), name="tiny")


def test_from_market_repeats_one_path_under_each_parameter_set(data):
    batch = from_market(data, GRID)
    assert (batch.n_scenarios, batch.n_bars, batch.n_symbols, batch.n_paths) == (4, 30, 2, 1)
    assert batch.labels == tuple(label for label, _ in GRID)
    assert batch.path_labels == ("tiny",) * 4 and batch.path(3).label == "tiny"
    assert batch.path_ids.tolist() == [0, 0, 0, 0]
    for f in FIELDS:
        arr = getattr(batch, f)
        assert arr.shape == (4, 30, 2) and arr.dtype == np.float64
        assert arr.flags.c_contiguous and not arr.flags.writeable
        assert (arr == getattr(data, f)[None]).all()
    assert batch.same_dates and batch.index.equals(data.index)
    assert batch.n_valid.tolist() == [30] * 4 and batch.valid_mask().all()


def test_from_market_labels_plain_params_by_what_differs_from_the_defaults(data):
    batch = from_market(data, [ScenarioParams(), ScenarioParams(fees=0.002)])
    assert batch.labels == ("default", "fees=0.002")
    assert from_market(data).labels == ("default",)
    assert from_market(data, ScenarioParams(stop_loss=0.05), labels=["stops"]).labels == ("stops",)


def test_param_array_is_one_float_column_per_parameter(data):
    params = [ScenarioParams(fees=0.001, allow_short=True), ScenarioParams(cooldown_bars=3)]
    batch = from_market(data, params)
    assert batch.param_array("fees").tolist() == [0.001, 0.0]
    assert batch.param_array("allow_short").tolist() == [1.0, 0.0]
    assert batch.param_array("cooldown_bars").dtype == np.float64
    assert list(batch.param_arrays()) == list(ScenarioParams().to_dict())
    with pytest.raises(InvalidParameterError, match=r"Did you mean 'max_drawdown'\?"):
        batch.param_array("max_drawdwn")


def _with_listing_gap() -> MarketData:
    # Symbol B lists on the third bar (NaN before): a frame-aligned dataset like 'stocks' with FB.
    path = random_path(6, n_symbols=2, seed=2)
    arrays = {f: getattr(path, f).copy() for f in FIELDS}
    for f in FIELDS:
        arrays[f][:2, 1] = np.nan
    return MarketData("listing", path.index, ("A", "B"), frequency="1D", **arrays)


def test_a_symbol_without_bars_is_refused_with_its_range_and_the_fix():
    with pytest.raises(InvalidParameterError, match=(
        r"symbol B has no bars over part of the selection 2024-01-01 to 2024-01-06 .*"
        r"its bars run from 2024-01-03 to 2024-01-06.*--start 2024-01-03 --end 2024-01-06.*--symbols"
    )):
        from_market(_with_listing_gap())
    assert from_market(_with_listing_gap().slice("2024-01-03")).n_bars == 4


def test_a_missing_bar_inside_a_symbols_range_is_refused():
    data = _with_listing_gap().slice("2024-01-03")
    arrays = {f: getattr(data, f).copy() for f in FIELDS}
    for f in FIELDS:
        arrays[f][2, 0] = np.nan
    holed = MarketData("holed", data.index, data.symbols, frequency="1D", **arrays)
    with pytest.raises(InvalidParameterError, match=r"symbol A has no bar at 2024-01-05 \(1 bar\(s\) missing"):
        from_market(holed)


def test_fingerprint_changes_with_prices_params_and_labels(data):
    batch = from_market(data, GRID)
    assert batch.fingerprint() == from_market(data, GRID).fingerprint()
    assert batch.fingerprint() != from_market(data, GRID[:3] + [("x", GRID[3][1])]).fingerprint()
    assert batch.fingerprint() != from_market(data, GRID[:3] + [("fees=0.001 slippage=0.0005",
                                                                  ScenarioParams(fees=0.002))]).fingerprint()
    shifted = market_data(random_path(30, n_symbols=2, seed=3), name="tiny")
    assert batch.fingerprint() != from_market(shifted, GRID).fingerprint()


def test_subset_keeps_order_and_renumbers_path_ids():
    paths = [random_path(5, seed=s, label=f"p{s}") for s in range(3)]
    batch = cross_params(from_paths(paths), [ScenarioParams(), ScenarioParams(fees=0.001)])
    assert batch.path_ids.tolist() == [0, 0, 1, 1, 2, 2]
    sub = batch.subset([5, 0, 4])
    assert sub.labels == ("p2 | fees=0.001", "p0 | default", "p2 | default")
    assert sub.path_ids.tolist() == [0, 1, 0]  # renumbered by first appearance
    assert (sub.close[1] == paths[0].close).all()
    assert batch.subset(np.arange(6) % 2 == 0).labels == ("p0 | default", "p1 | default", "p2 | default")
    with pytest.raises(InvalidParameterError, match=r"must lie in \[0, 5\]"):
        batch.subset([6])


def test_paths_of_different_length_are_padded_flat_with_zero_volume():
    short = make_path([10.0, 11.0, 12.0], label="short")
    long = make_path([20.0, 21.0, 22.0, 23.0, 24.0], label="long")
    batch = from_paths([short, long])
    assert batch.n_bars == 5 and batch.n_valid.tolist() == [3, 5]
    # Bars 3 and 4 of 'short' repeat its last close 12 in every price field, with volume 0.
    for f in ("open", "high", "low", "close"):
        assert getattr(batch, f)[0, :, 0].tolist() == [10.0, 11.0, 12.0, 12.0, 12.0]
    assert batch.volume[0, :, 0].tolist() == [1000.0, 1000.0, 1000.0, 0.0, 0.0]
    assert batch.timestamps[0][3:].strftime("%Y-%m-%d").tolist() == ["2024-01-04", "2024-01-05"]
    assert batch.valid_mask().tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert batch.path(0).close[:, 0].tolist() == [10.0, 11.0, 12.0]
    assert from_paths([short], pad_to=4).n_valid.tolist() == [3]
    with pytest.raises(InvalidParameterError, match="shorter than the longest path"):
        from_paths([short, long], pad_to=4)


def test_the_same_path_object_twice_is_one_path():
    path = make_path([1.0, 2.0, 3.0])
    batch = from_paths([path, make_path([1.0, 2.0, 3.0]), path], params=[
        ScenarioParams(), ScenarioParams(), ScenarioParams(fees=0.001)])
    assert batch.path_ids.tolist() == [0, 1, 0]


def test_from_paths_refuses_paths_on_other_symbols():
    with pytest.raises(InvalidParameterError, match="differ in symbols"):
        from_paths([make_path([1.0, 2.0], symbols=["A"]), make_path([1.0, 2.0], symbols=["B"])])


def test_historical_windows_keep_their_real_dates():
    sp500 = load_builtin("sp500")
    lehman, flash = (p for p in STRESS_PERIODS if p.key in ("lehman_weeks", "flash_crash_2010"))
    batch = historical_windows(sp500, [lehman, flash, ("q1_2009", "2009-01-02", "2009-03-31")])
    assert batch.labels == ("Lehman weeks (2008-09-12 to 2008-10-10)",
                            "2010 flash crash (2010-05-05 to 2010-05-07)", "q1_2009 (2009-01-02 to 2009-03-31)")
    assert batch.path_ids.tolist() == [0, 1, 2] and not batch.same_dates
    # The flash-crash window holds the three trading days 2010-05-05, -06 and -07.
    assert batch.n_valid[1] == 3
    assert batch.timestamps[1][:3].strftime("%Y-%m-%d").tolist() == ["2010-05-05", "2010-05-06", "2010-05-07"]
    assert batch.n_bars == max(batch.n_valid) == batch.n_valid[2]
    lehman_bars = sp500.symbol_frame("SPX").loc["2008-09-12":"2008-10-10"]
    assert (batch.close[0, :batch.n_valid[0], 0] == lehman_bars["close"].to_numpy()).all()
    with pytest.raises(InvalidParameterError, match=r"not covered by dataset 'sp500'.*1999-01-04 to 2018-12-31"):
        historical_windows(sp500, [("future", "2018-12-01", "2019-02-01")])


def test_cross_params_is_scenario_major():
    batch = from_paths([make_path([1.0, 2.0], label="a"), make_path([3.0, 4.0], label="b")])
    crossed = cross_params(batch, GRID[:2])
    assert crossed.labels == ("a | fees=0 slippage=0", "a | fees=0 slippage=0.0005",
                              "b | fees=0 slippage=0", "b | fees=0 slippage=0.0005")
    assert crossed.path_ids.tolist() == [0, 0, 1, 1]
    assert crossed.path_labels == ("a", "a", "b", "b")
    assert crossed.param_array("slippage").tolist() == [0.0, 0.0005, 0.0, 0.0005]
    assert crossed.close[:, :, 0].tolist() == [[1, 2], [1, 2], [3, 4], [3, 4]]


def test_combine_shares_path_ids_by_content(data):
    base = from_market(data, GRID[:2])
    path = base.path(0)
    shocked = from_paths([overnight_gap(path, 5, -0.1)])
    both = combine(base, from_market(data, ScenarioParams(fees=0.01)), shocked)
    assert both.n_scenarios == 4
    assert both.path_ids.tolist() == [0, 0, 0, 1]
    assert both.labels[3] == "tiny | gap -10% at 2024-01-06"
    with pytest.raises(InvalidParameterError, match="cannot combine batches of 30 bars"):
        combine(base, from_paths([make_path([1.0, 2.0], symbols=data.symbols[:1])]))


def test_scenarios_sharing_a_path_id_must_share_their_prices():
    batch = from_paths([make_path([1.0, 2.0]), make_path([1.0, 3.0])])
    fields = {f: getattr(batch, f) for f in FIELDS}
    with pytest.raises(InvalidParameterError, match="share path id 0 but not their market data"):
        ScenarioBatch(symbols=batch.symbols, timestamps=batch.timestamps, params=batch.params,
                      labels=batch.labels, path_ids=np.array([0, 0]), **fields)


def test_batch_refuses_invalid_bars():
    batch = from_paths([make_path([1.0, 2.0, 3.0], label="x")])
    high = batch.high.copy()
    high[0, 1, 0] = 1.5  # below the close of 2.0
    fields = {f: getattr(batch, f) for f in FIELDS} | {"high": high}
    with pytest.raises(InvalidParameterError, match=r"high must be >= max\(open, close\); first broken at "
                                                    r"scenario 0 \(x\), S0 at 2024-01-02"):
        ScenarioBatch(symbols=batch.symbols, timestamps=batch.timestamps, params=batch.params,
                      labels=batch.labels, path_ids=batch.path_ids, **fields)


def test_day_starts_mark_each_scenarios_first_bar_of_a_day():
    hourly = make_path(np.linspace(10, 12, 8), freq="6h", start="2024-03-01 06:00")
    batch = from_paths([hourly])
    # 06:00, 12:00, 18:00 | 00:00 (03-02), 06:00, 12:00, 18:00 | 00:00 (03-03)
    assert batch.day_starts()[0].tolist() == [True, False, False, True, False, False, False, True]


def test_describe_has_one_row_per_scenario_with_its_dates_and_params(data):
    table = from_market(data, GRID).describe()
    assert table.shape[0] == 4
    assert table.loc[3, "fees"] == 0.001 and table.loc[3, "slippage"] == 0.0005
    assert table.loc[0, "start"] == data.index[0] and table.loc[0, "end"] == data.index[-1]
    assert isinstance(table.loc[0, "start"], pd.Timestamp)
