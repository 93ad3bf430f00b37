"""The technical and regime blocks of ``N`` symbols, one new row per arriving bar.

A backtest computes :func:`~engine.features.technical.technical_features` and
:func:`~engine.features.regime_block.regime_features` over a whole path; a paper-trading loop gets one
bar at a time and needs only the newest row. :class:`StreamingFeatures` keeps what the next row
needs (the last values of each input series for the window statistics, the running state of each
smoother) and computes that row for all symbols at once, in O(window) work per bar instead of
O(bars so far).

The row equals the batch functions' row at the same bar bit for bit: window statistics apply the
same reductions (``engine.features.rolling``'s ``mean_rows``, ``std_rows``, ...) to the newest
window, smoothers advance through the same :func:`~engine.features.rolling.smoothing_step_nb`, and
every formula below is the batch module's, in the same order of operations
(``tests/engine/features/test_streaming.py`` checks equality on random paths with flat stretches and
zero volume). A change to either batch module must be made here too; that test fails otherwise.
"""
from __future__ import annotations

import math

import numpy as np

from engine.errors import InvalidParameterError
from engine.features import rolling
from engine.features.regime_block import REGIME_COLUMNS, VOL_LEVEL_REFERENCE, tanh_ratio
from engine.features.technical import TECHNICAL_COLUMNS

_LONGEST_LAG = 60  # momentum_60's close 60 bars back
_PERCENTILE_WINDOW = 252


class _Tail:
    """The last values of ``K`` series, contiguous per series (a window is a ``[K, w]`` view).

    Values before the first push read as missing: :meth:`window` returns None until ``w`` values exist.
    """

    def __init__(self, n_series: int, keep: int) -> None:
        self.keep = keep
        self._values = np.empty((n_series, 2 * keep))
        self._end = 0  # next free column
        self.count = 0  # values pushed so far

    def push(self, values: np.ndarray) -> None:
        if self._end == self._values.shape[1]:
            self._values[:, :self.keep - 1] = self._values[:, self._end - self.keep + 1:self._end]
            self._end = self.keep - 1
        self._values[:, self._end] = values
        self._end += 1
        self.count += 1

    def window(self, length: int) -> np.ndarray | None:
        """``[K, length]``: the last ``length`` values of each series (None while fewer exist)."""
        if self.count < length:
            return None
        return self._values[:, self._end - length:self._end]

    def back(self, lag: int) -> np.ndarray | None:
        """``[K]``: each series' value ``lag`` pushes ago (None while fewer exist)."""
        if self.count <= lag:
            return None
        return self._values[:, self._end - 1 - lag]


class _Smoother:
    """A seeded smoothing (``rolling.ema`` / ``rolling.wilder``) of ``K`` series, one value each per bar."""

    def __init__(self, n_series: int, alpha: float, window: int) -> None:
        self.alpha, self.window = alpha, window
        self.run = np.zeros(n_series, dtype=np.int64)
        self.acc = np.zeros(n_series)
        self.state = np.zeros(n_series)

    def step(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(self.state))
        rolling.smoothing_steps_nb(np.ascontiguousarray(values, dtype=np.float64), self.alpha, self.window,
                                   self.run, self.acc, self.state, out)
        return out


def _ema(n: int, span: int) -> _Smoother:
    return _Smoother(n, 2.0 / (span + 1.0), span)


def _wilder(n: int, period: int) -> _Smoother:
    return _Smoother(n, 1.0 / period, period)


class StreamingFeatures:
    """Technical and regime rows of ``n_symbols`` symbols, bar by bar.

    Args:
        n_symbols: Symbols per bar (the column order of every input).
        bars_per_year: The regime block's annualization (``engine.data.market.bars_per_year``).
    """

    def __init__(self, n_symbols: int, bars_per_year: float) -> None:
        if isinstance(n_symbols, bool) or not isinstance(n_symbols, (int, np.integer)) or n_symbols < 1:
            raise InvalidParameterError(f"n_symbols must be a positive integer, got {n_symbols!r}")
        if not (isinstance(bars_per_year, (int, float)) and math.isfinite(bars_per_year) and bars_per_year > 0):
            raise InvalidParameterError(f"bars_per_year must be a positive number, got {bars_per_year!r}")
        n = int(n_symbols)
        self.n_symbols = n
        self.bars_per_year = float(bars_per_year)
        self.n_bars = 0
        self._close = _Tail(n, 200)
        self._high = _Tail(n, 14)
        self._low = _Tail(n, 14)
        self._volume = _Tail(n, 100)
        self._signed_volume = _Tail(n, 20)
        self._log_return = _Tail(n, 100)
        self._vol_20 = _Tail(n, _PERCENTILE_WINDOW)
        self._ema_12, self._ema_26, self._macd_signal = _ema(n, 12), _ema(n, 26), _ema(n, 9)
        self._gain, self._loss, self._true_range = _wilder(n, 14), _wilder(n, 14), _wilder(n, 14)
        self._plus_dm, self._minus_dm, self._adx = _wilder(n, 14), _wilder(n, 14), _wilder(n, 14)

    def append(self, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
               volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take the next bar (``[N]`` per field); returns its technical ``[N, 23]`` and regime ``[N, 10]`` rows.

        Columns follow :data:`~engine.features.technical.TECHNICAL_COLUMNS` and
        :data:`~engine.features.regime_block.REGIME_COLUMNS`; NaN during each column's warm-up.
        """
        o, h, l, c, v = (self._field(x, name) for x, name in
                         ((open_, "open"), (high, "high"), (low, "low"), (close, "close"), (volume, "volume")))
        nan = np.full(self.n_symbols, np.nan)
        prev_close = self._or_nan(self._close.back(0), nan)
        prev_high, prev_low = self._or_nan(self._high.back(0), nan), self._or_nan(self._low.back(0), nan)
        self._close.push(c)
        self._high.push(h)
        self._low.push(l)
        self._volume.push(v)
        self._signed_volume.push(np.sign(c - prev_close) * v)
        log_return_1 = np.log(c / prev_close)
        self._log_return.push(log_return_1)
        self.n_bars += 1

        macd = self._ema_12.step(c) / self._ema_26.step(c) - 1.0
        macd_signal = self._macd_signal.step(macd)
        change = c - prev_close
        gain = self._gain.step(np.maximum(change, 0.0))
        loss = self._loss.step(np.maximum(-change, 0.0))
        true_range = np.maximum(h - l, np.maximum(np.abs(h - prev_close), np.abs(l - prev_close)))
        adx = self._directional_index(h, l, prev_high, prev_low)

        lowest, highest = self._reduce(self._low, 14, rolling.min_rows), self._reduce(self._high, 14, rolling.max_rows)
        mid, std = self._sma(self._close, 20), self._reduce(self._close, 20, rolling.std_rows)
        vol_20 = self._reduce(self._log_return, 20, rolling.sample_std_rows)
        self._vol_20.push(vol_20)
        # Shared with the regime block: computed once.
        shared = {"log_return_20": self._log_return_lag(c, 20), "sma_50": self._sma(self._close, 50),
                  "volume_sma_20": self._sma(self._volume, 20), "vol_20": vol_20, "adx": adx}
        body_top, body_bottom = np.maximum(o, c), np.minimum(o, c)
        technical = {
            "log_return_1": log_return_1,
            "log_return_5": self._log_return_lag(c, 5),
            "log_return_20": shared["log_return_20"],
            "range_hl": (h - l) / c,
            "body": (c - o) / c,
            "upper_wick": (h - body_top) / c,
            "lower_wick": (body_bottom - l) / c,
            "gap": np.log(o / prev_close),
            "close_sma_10": c / self._sma(self._close, 10) - 1.0,
            "close_sma_20": c / mid - 1.0,
            "close_sma_50": c / shared["sma_50"] - 1.0,
            "macd": macd,
            "macd_signal": macd_signal,
            "macd_hist": macd - macd_signal,
            # rolling.rsi's 100 G / (G + L), divided by 100 as technical_features does: same bits.
            "rsi_14": 100.0 * rolling.safe_divide(gain, gain + loss, fill=0.5) / 100.0,
            "stoch_k_14": rolling.safe_divide(c - lowest, highest - lowest, fill=0.5),
            "atr_14": self._true_range.step(true_range) / c,
            "bb_position_20": rolling.safe_divide(c - (mid - 2.0 * std), 4.0 * std, fill=0.5),
            "bb_width_20": 4.0 * std / mid,
            "volume_ratio_20": rolling.safe_divide(v, shared["volume_sma_20"], fill=1.0),
            "obv_flow_20": rolling.safe_divide(self._reduce(self._signed_volume, 20, rolling.sum_rows),
                                               self._reduce(self._volume, 20, rolling.sum_rows), fill=0.0),
            "realized_vol_20": vol_20,
            "adx_14": adx / 100.0,
        }
        regime = self._regime(c, v, shared)
        return (np.stack([technical[k] for k in TECHNICAL_COLUMNS], axis=1),
                np.stack([regime[k] for k in REGIME_COLUMNS], axis=1))

    def _regime(self, c: np.ndarray, v: np.ndarray, shared: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vol_20 = shared["vol_20"]
        vol_100 = self._reduce(self._log_return, 100, rolling.sample_std_rows)
        sma_200 = self._sma(self._close, 200)
        volume_mean = self._sma(self._volume, 100)

        def vol_scaled(move: np.ndarray, horizon: int) -> np.ndarray:
            return tanh_ratio(move, 2.0 * vol_100 * math.sqrt(horizon))

        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "vol_level": np.tanh(vol_20 * math.sqrt(self.bars_per_year) / VOL_LEVEL_REFERENCE),
                "vol_ratio": np.tanh(np.log(rolling.safe_divide(vol_20, vol_100, fill=1.0))),
                "vol_percentile": self._reduce(self._vol_20, _PERCENTILE_WINDOW, rolling.rank_rows),
                "trend_sma_spread": vol_scaled(np.log(shared["sma_50"] / sma_200), 75),
                "trend_adx": shared["adx"] / 100.0,
                "trend_price_sma200": vol_scaled(np.log(c / sma_200), 100),
                "momentum_20": vol_scaled(shared["log_return_20"], 20),
                "momentum_60": vol_scaled(self._log_return_lag(c, _LONGEST_LAG), 60),
                "volume_trend": np.tanh(np.log(rolling.safe_divide(shared["volume_sma_20"], volume_mean, fill=1.0))),
                "volume_zscore": tanh_ratio(v - volume_mean,
                                            2.0 * self._reduce(self._volume, 100, rolling.std_rows)),
            }

    def _directional_index(self, h: np.ndarray, l: np.ndarray, prev_high: np.ndarray,
                           prev_low: np.ndarray) -> np.ndarray:
        """Wilder's ADX in [0, 100] at this bar (``rolling.adx``)."""
        up = h - prev_high
        down = -(l - prev_low)
        plus_dm = np.where((up > down) & (up > 0), up, 0.0)
        minus_dm = np.where((down > up) & (down > 0), down, 0.0)
        if self.n_bars == 1:
            plus_dm[:] = minus_dm[:] = np.nan
        plus, minus = self._plus_dm.step(plus_dm), self._minus_dm.step(minus_dm)
        dx = 100.0 * rolling.safe_divide(np.abs(plus - minus), plus + minus, fill=0.0)
        return self._adx.step(dx)

    def _log_return_lag(self, c: np.ndarray, lag: int) -> np.ndarray:
        """``log(c / c_{t-lag})`` (``rolling.log_return``); NaN until ``lag`` earlier bars exist."""
        before = self._close.back(lag)
        return np.full(self.n_symbols, np.nan) if before is None else np.log(c / before)

    def _sma(self, tail: _Tail, window: int) -> np.ndarray:
        return self._reduce(tail, window, rolling.mean_rows)

    def _reduce(self, tail: _Tail, window: int, reduce) -> np.ndarray:
        values = tail.window(window)
        return np.full(self.n_symbols, np.nan) if values is None else reduce(values)

    def _field(self, values: np.ndarray, name: str) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        if array.shape != (self.n_symbols,):
            raise InvalidParameterError(f"bar field {name!r} has shape {array.shape}, expected ({self.n_symbols},)")
        return array

    @staticmethod
    def _or_nan(values: np.ndarray | None, nan: np.ndarray) -> np.ndarray:
        return nan if values is None else values.copy()
