"""Built-in datasets: metadata matches the loaded bars; stocks are adjusted honestly."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data.registry import builtin_info, builtin_names, load_builtin, split_dataset_name
from engine.errors import InvalidParameterError, UnknownDatasetError


@pytest.mark.parametrize("name", ["sp500", "nasdaq", "stocks", "synthetic-5min", "synthetic-30min"])
def test_metadata_matches_the_loaded_data(name: str) -> None:
    info, data = builtin_info(name), load_builtin(name)
    assert data.symbols == info.symbols
    assert data.frequency == info.frequency
    assert str(data.index[0].date()) == info.start
    assert str(data.index[-1].date()) == info.end
    assert info.source and info.licence


@pytest.mark.parametrize("name", ["sp500", "nasdaq", "stocks", "synthetic-5min"])
def test_bars_satisfy_ohlc_invariants(name: str) -> None:
    data = load_builtin(name)
    have = np.isfinite(data.close)
    assert np.array_equal(have, np.isfinite(data.open)) and np.array_equal(have, np.isfinite(data.volume))
    hi, lo, op, cl = (a[have] for a in (data.high, data.low, data.open, data.close))
    assert (op > 0).all() and (lo > 0).all()
    assert (hi >= np.maximum(op, cl)).all() and (lo <= np.minimum(op, cl)).all()
    assert (data.volume[have] >= 0).all()


def test_index_levels_match_known_closes() -> None:
    # Known closes: S&P 500 2008-09-15 (Lehman) 1,192.70; NASDAQ 2000-03-10 peak 5,048.62.
    sp = load_builtin("sp500").symbol_frame("SPX")
    nq = load_builtin("nasdaq").symbol_frame("IXIC")
    assert sp.loc["2008-09-15", "close"].item() == pytest.approx(1192.70, abs=0.01)
    assert nq.loc["2000-03-10", "close"].item() == pytest.approx(5048.62, abs=0.01)


def test_stock_prices_are_split_adjusted() -> None:
    from bokeh_sampledata.stocks import data as raw

    aapl = load_builtin("stocks").symbol_frame("AAPL")
    source = raw[raw["ticker"] == "AAPL"].set_index("date")
    # AAPL split 2:1 on 2005-02-28: the raw close halves overnight, the adjusted one does not.
    raw_move = source.loc["2005-02-28", "close"] / source.loc["2005-02-25", "close"]
    adj_move = aapl.loc["2005-02-28", "close"].item() / aapl.loc["2005-02-25", "close"].item()
    assert raw_move < 0.55 and 0.9 < adj_move < 1.1
    # Adjusted close equals the source's adj_close; traded value is unchanged by the adjustment.
    np.testing.assert_allclose(aapl["close"].to_numpy(), source["adj_close"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose((aapl["close"] * aapl["volume"]).to_numpy(),
                               (source["close"] * source["volume"]).to_numpy(), rtol=1e-9)


def test_goog_and_fb_are_nan_before_listing() -> None:
    stocks = load_builtin("stocks")
    goog = stocks.symbol_frame("GOOG")
    assert str(goog.index[0].date()) == "2004-08-19"
    assert np.isnan(stocks.close[0, stocks.symbols.index("FB")])


def test_unknown_dataset_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownDatasetError, match="Did you mean 'sp500'"):
        load_builtin("sp50")


def test_synthetic_overrides_are_applied_and_typed() -> None:
    data = load_builtin("synthetic-hourly:n_symbols=3,seed=2,end=2023-10-31")
    assert data.symbols == ("SYN000", "SYN001", "SYN002")
    assert str(data.index[-1].date()) == "2023-10-31"
    assert builtin_info("synthetic-hourly:n_symbols=3").symbols == ("SYN000", "SYN001", "SYN002")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("synthetic-hourly:colour=red", "unknown synthetic parameter 'colour'"),
        ("synthetic-hourly:n_symbols=many", "not a valid int"),
        ("synthetic-hourly:seed", "is not KEY=VALUE"),
        ("sp500:seed=1", "takes no parameters"),
    ],
)
def test_bad_dataset_parameters_are_explained(name: str, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        builtin_info(name)
        load_builtin(name)


def test_split_dataset_name() -> None:
    assert split_dataset_name("synthetic-5min: seed=3 , n_symbols=2") == (
        "synthetic-5min", {"seed": "3", "n_symbols": "2"})
    assert "synthetic-hourly" in builtin_names()
