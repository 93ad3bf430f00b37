"""Real market data that ships inside installed packages (no network at run time).

- ``arch`` ships S&P 500 and NASDAQ Composite daily OHLCV, 1999-01-04 to 2018-12-31 (Yahoo! Finance).
- ``bokeh-sampledata`` ships AAPL, MSFT, IBM, GOOG (and FB from its 2012 listing) daily OHLCV to
  2013-03-01 from the public-domain Quandl WIKI prices. Its open/high/low/close/volume are
  unadjusted; we rescale them with the source's split- and dividend-adjusted close.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from engine.data.market import FIELDS, MarketData

logger = logging.getLogger(__name__)

STOCK_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "IBM", "GOOG", "FB")


def load_arch_index(module_name: str, symbol: str) -> MarketData:
    """Load one of ``arch``'s daily index files (``sp500`` or ``nasdaq``) as a one-symbol dataset.

    The ``Adj Close`` column equals ``Close`` for an index (no splits or dividends) and is dropped.
    """
    from importlib import import_module

    raw = import_module(f"arch.data.{module_name}").load()
    frame = pd.DataFrame(
        {
            "open": raw["Open"].to_numpy(np.float64),
            "high": raw["High"].to_numpy(np.float64),
            "low": raw["Low"].to_numpy(np.float64),
            "close": raw["Close"].to_numpy(np.float64),
            "volume": raw["Volume"].to_numpy(np.float64),
        },
        index=_utc_dates(raw.index),
    )
    return MarketData.from_frames(module_name, {symbol: frame}, frequency="1D")


def load_sample_stocks() -> MarketData:
    """Load bokeh-sampledata's daily stocks, split- and dividend-adjusted.

    Adjustment: ``factor = adj_close / close`` per row; open, high, low and close are multiplied by
    ``factor`` (so the adjusted close equals the source's ``adj_close``) and volume is divided by it,
    which keeps traded value (price x volume) unchanged across a split.
    """
    from bokeh_sampledata.stocks import data as raw

    frames: dict[str, pd.DataFrame] = {}
    for symbol in STOCK_SYMBOLS:
        rows = raw[raw["ticker"] == symbol].sort_values("date")
        if rows.empty:
            logger.info("bokeh-sampledata has no rows for %s; skipped", symbol)
            continue
        factor = rows["adj_close"].to_numpy(np.float64) / rows["close"].to_numpy(np.float64)
        adjusted = {f: rows[f].to_numpy(np.float64) * factor for f in ("open", "high", "low", "close")}
        adjusted["volume"] = rows["volume"].to_numpy(np.float64) / factor
        frames[symbol] = pd.DataFrame(adjusted, index=_utc_dates(rows["date"]))[list(FIELDS)]
    return MarketData.from_frames("stocks", frames, frequency="1D")


def _utc_dates(values: pd.Index | pd.Series) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(pd.to_datetime(values)).as_unit("ns")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    index.name = "timestamp"
    return index
