"""Per-account statistics that the portfolio state does not carry: returns, peak, hold time.

The observation (rolling Sharpe and Sortino, drawdown, hold time) and the rewards (Sharpe estimate,
drawdown, time in position) read these. An :class:`AccountTracker` is updated once per bar, after
``engine.risk.close_bar_nb`` has marked equity, from the kernel's :class:`~engine.state.PortfolioState`;
it never changes that state. Everything is vectorized over the ``K`` accounts and ``N`` symbols.

Definitions (``E_t`` = equity at bar ``t``'s close, one account):

* bar return ``r_t = E_t / E_{t-1} - 1``; the last ``window`` returns since the account's reset are
  kept (fewer right after a reset);
* rolling Sharpe ``mean(r) / std(r) * sqrt(bars_per_year)`` (std ddof 1), 0 with fewer than 2 returns
  or a std below 1e-12 (a flat account);
* rolling Sortino ``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(bars_per_year)``, 0 with fewer than 2
  returns; with no negative return (downside below 1e-12) it is ``+ratio_clip`` when the mean is
  positive, else 0;
* both are clipped to ``[-ratio_clip, ratio_clip]``;
* peak: highest close equity since the reset; drawdown ``1 - E_t / peak`` (>= 0);
* hold time: bars since the position of a symbol was opened (a fill that takes it from flat, or
  flips its side); 0 on the bar the opening order filled, and 0 while flat.
"""
from __future__ import annotations

import numpy as np

from engine.errors import InvalidParameterError
from engine.state import PortfolioState

_MIN_STD = 1e-12


class AccountTracker:
    """Rolling return statistics, equity peak and hold times of ``K`` accounts over ``N`` symbols.

    Args:
        n_accounts: ``K``.
        n_symbols: ``N``.
        window: Bar returns behind the rolling ratios (>= 2).
        bars_per_year: Annualization of the ratios (``engine.data.market.bars_per_year``).
        ratio_clip: Bound of the annualized ratios.
    """

    def __init__(self, n_accounts: int, n_symbols: int, window: int = 60,
                 bars_per_year: float = 252.0, ratio_clip: float = 10.0) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
            raise InvalidParameterError(f"the return window must be an integer >= 2, got {window!r}")
        if not (np.isfinite(bars_per_year) and bars_per_year > 0 and np.isfinite(ratio_clip) and ratio_clip > 0):
            raise InvalidParameterError(
                f"bars_per_year and ratio_clip must be positive numbers, got {bars_per_year!r}, {ratio_clip!r}")
        self.window = int(window)
        self.annualize = float(np.sqrt(bars_per_year))
        self.ratio_clip = float(ratio_clip)
        self.returns = np.full((n_accounts, self.window), np.nan)
        self.head = 0  # every account advances one bar per update, so the ring position is shared
        self.prev_equity = np.zeros(n_accounts)
        self.peak = np.zeros(n_accounts)
        self.prev_units = np.zeros((n_accounts, n_symbols))
        self.entry_bar = np.full((n_accounts, n_symbols), -1, dtype=np.int64)
        self.bar = np.zeros(n_accounts, dtype=np.int64)

    def reset(self, accounts: np.ndarray, bars: np.ndarray, state: PortfolioState) -> None:
        """Start the statistics of ``accounts`` afresh at ``bars`` from their current ``state`` rows."""
        self.returns[accounts] = np.nan
        equity = state.equity[accounts]
        self.prev_equity[accounts] = equity
        self.peak[accounts] = equity
        units = state.units[accounts]
        self.prev_units[accounts] = units
        self.entry_bar[accounts] = np.where(units != 0.0, np.asarray(bars)[:, None], -1)
        self.bar[accounts] = bars

    def update(self, bars: np.ndarray, state: PortfolioState) -> None:
        """Record every account's close at ``bars`` (one bar after the last update)."""
        equity = state.equity
        with np.errstate(divide="ignore", invalid="ignore"):
            ret = np.where(self.prev_equity > 0.0, equity / self.prev_equity - 1.0, 0.0)
        self.returns[:, self.head] = ret
        self.head = (self.head + 1) % self.window
        self.prev_equity = equity.copy()
        self.peak = np.maximum(self.peak, equity)
        units = state.units
        opened = (units != 0.0) & ((self.prev_units == 0.0) | (np.sign(units) != np.sign(self.prev_units)))
        bars = np.asarray(bars, dtype=np.int64)
        self.entry_bar = np.where(opened, bars[:, None], self.entry_bar)
        self.entry_bar[units == 0.0] = -1
        self.prev_units = units.copy()
        self.bar = bars.copy()

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the statistics (what :meth:`reset` and :meth:`update` change)."""
        return {"returns": self.returns.copy(), "head": np.array(self.head, dtype=np.int64),
                "prev_equity": self.prev_equity.copy(), "peak": self.peak.copy(),
                "prev_units": self.prev_units.copy(), "entry_bar": self.entry_bar.copy(), "bar": self.bar.copy()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Return to a :meth:`snapshot` of a tracker of the same size.

        Raises:
            InvalidParameterError: an entry is missing or has another shape.
        """
        current = self.snapshot()
        for key, like in current.items():
            value = np.asarray(arrays[key]) if key in arrays else None
            if value is None or value.shape != like.shape:
                raise InvalidParameterError(
                    f"tracker snapshot entry {key!r} is missing or shaped {None if value is None else value.shape}, "
                    f"expected {like.shape}")
            current[key] = value.astype(like.dtype, copy=True)
        self.head = int(current.pop("head"))
        for key, value in current.items():
            setattr(self, key, value)

    def hold_bars(self) -> np.ndarray:
        """``[K, N]`` bars each open position has been held (0 when flat)."""
        return np.where(self.entry_bar >= 0, self.bar[:, None] - self.entry_bar, 0)

    def drawdown(self, equity: np.ndarray) -> np.ndarray:
        """``[K]`` fraction below the peak, ``1 - equity / peak`` (0 at a new peak)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.peak > 0.0, 1.0 - equity / self.peak, 0.0)

    def sharpe(self) -> np.ndarray:
        """``[K]`` annualized rolling Sharpe ratio, clipped (see the module docstring)."""
        valid, returns, count = self._window()
        mean = returns.sum(axis=1) / np.maximum(count, 1)
        deviation = np.where(valid, returns - mean[:, None], 0.0)
        std = np.sqrt((deviation ** 2).sum(axis=1) / np.maximum(count - 1, 1))
        # A std below 1e-12 per bar is rounding noise (a flat account), not a signal.
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where((count >= 2) & (std > _MIN_STD), mean / std * self.annualize, 0.0)
        return np.clip(ratio, -self.ratio_clip, self.ratio_clip)

    def sortino(self) -> np.ndarray:
        """``[K]`` annualized rolling Sortino ratio, clipped (see the module docstring)."""
        _, returns, count = self._window()
        n = np.maximum(count, 1)
        mean = returns.sum(axis=1) / n
        downside = np.sqrt((np.minimum(returns, 0.0) ** 2).sum(axis=1) / n)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(downside > _MIN_STD, mean / downside * self.annualize,
                             np.where(mean > 0.0, self.ratio_clip, 0.0))
        return np.clip(np.where(count >= 2, ratio, 0.0), -self.ratio_clip, self.ratio_clip)

    def _window(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        valid = ~np.isnan(self.returns)
        return valid, np.where(valid, self.returns, 0.0), valid.sum(axis=1)
