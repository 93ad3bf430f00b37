"""GARCH(1,1) paths: alternative histories with the base path's volatility dynamics.

Fit, per symbol, on close log returns ``r_t = ln(C_t / C_{t-1})`` standardized by their sample
standard deviation ``sd`` (so the optimizer works near unit scale whatever the bar frequency), with
the ``arch`` package: constant mean, GARCH(1,1) variance, Student-t innovations by default::

    x_t = mu + e_t,   e_t = sigma_t z_t,   sigma_t^2 = omega + alpha e_{t-1}^2 + beta sigma_{t-1}^2

Simulation (own recursion, so a seed gives bit-identical paths): innovations ``z`` are drawn
jointly for all symbols from a Gaussian copula whose correlation is that of the fitted
standardized residuals (keeping cross-correlation), mapped to unit-variance Student-t marginals with
each symbol's fitted ``nu`` (or left normal with ``dist="normal"``).

The simulation keeps the variance stationary around the sample variance. Daily index fits are
often integrated (``alpha + beta`` at its bound of 1): simulated with the fitted ``omega`` the
expected variance then grows by ``omega`` every bar, and with ``omega = 0`` it collapses towards
zero, so long paths drift far from the historical volatility either way. Hence persistence is capped
at ``MAX_PERSISTENCE`` (``alpha`` and ``beta`` scaled down in proportion when above it), ``omega``
is set to ``var(x) (1 - alpha - beta)`` (variance targeting) and the recursion starts at
``sigma_0^2 = var(x)`` (= 1). The drift is the sample mean of ``x``, not the fitted ``mu``: the
Student-t location is a robust estimate that sits above the mean when returns are negatively skewed,
and compounded over a long path it makes the simulated histories far more optimistic than the real
one. Simulated returns are ``sd * x``.

OHLC construction around simulated closes ``C'_t = C_0 exp(sum r'_t)``: ``open = previous close``
(no overnight gaps); a historical bar ``j`` is drawn uniformly (the same ``j`` for every symbol) and
lends its wicks ``u_j = ln(H_j / max(O_j, C_j))``, ``d_j = ln(min(O_j, C_j) / L_j)`` scaled by
``sigma'_t / sd`` (wider in volatile stretches): ``high = max(open, close) exp(u_j sigma'_t / sd)``,
``low = min(open, close) exp(-d_j sigma'_t / sd)``; ``volume = V_j``. Bar 0 is the base path's.
"""
from __future__ import annotations

import logging
import warnings

import numba
import numpy as np

from engine.errors import InvalidParameterError
from engine.scenarios._generators import check_count, make_rng, seed_label, synthetic_batch
from engine.scenarios.batch import ScenarioBatch
from engine.scenarios.params import DEFAULT_PARAMS, ScenarioParams
from engine.scenarios.path import PricePath

logger = logging.getLogger(__name__)

MAX_PERSISTENCE = 0.99  # alpha + beta; volatility shocks then decay with a half-life of ~69 bars
MIN_RETURNS = 100  # below this the four or five GARCH parameters are not identified in practice
DISTRIBUTIONS = ("t", "normal")


@numba.njit(cache=True)
def garch_recursion_nb(z: np.ndarray, mu: np.ndarray, omega: np.ndarray, alpha: np.ndarray,
                       beta: np.ndarray, var0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) returns and conditional volatilities from unit innovations ``z[P, M, N]``."""
    n_paths, n_steps, n_symbols = z.shape
    x = np.empty_like(z)
    sigma = np.empty_like(z)
    for p in range(n_paths):
        for j in range(n_symbols):
            var = var0[j]
            for t in range(n_steps):
                s = np.sqrt(var)
                e = s * z[p, t, j]
                x[p, t, j] = mu[j] + e
                sigma[p, t, j] = s
                var = omega[j] + alpha[j] * e * e + beta[j] * var
    return x, sigma


def fit_garch(returns: np.ndarray, symbols: tuple[str, ...], dist: str = "t") -> dict[str, np.ndarray]:
    """Fit GARCH(1,1) to each column of standardized ``returns[M, N]``.

    Returns:
        ``mu, omega, alpha, beta, nu`` (``[N]``; ``nu`` is inf for normal innovations) and
        ``std_resid`` (``[M, N]`` standardized residuals).
    """
    from arch import arch_model  # heavy import, only needed here

    out = {k: np.empty(returns.shape[1]) for k in ("mu", "omega", "alpha", "beta", "nu")}
    out["std_resid"] = np.empty_like(returns)
    for j, symbol in enumerate(symbols):
        model = arch_model(returns[:, j], mean="Constant", vol="GARCH", p=1, q=1, dist=dist,
                           rescale=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence is checked below, by flag
            result = model.fit(disp="off")
        if result.convergence_flag != 0:
            logger.warning("GARCH fit of %s did not converge (flag %s); simulating from its last "
                           "estimates", symbol, result.convergence_flag)
        values = result.params
        out["mu"][j], out["omega"][j] = values["mu"], values["omega"]
        out["alpha"][j], out["beta"][j] = values["alpha[1]"], values["beta[1]"]
        out["nu"][j] = values["nu"] if dist == "t" else np.inf
        out["std_resid"][:, j] = np.asarray(result.std_resid)
    return out


def garch_paths(path: PricePath, n_paths: int, seed: int | np.random.Generator, dist: str = "t",
                params: ScenarioParams = DEFAULT_PARAMS) -> ScenarioBatch:
    """``n_paths`` GARCH(1,1) paths of ``path``'s length, one scenario each (module docstring).

    Args:
        path: Base path with at least ``MIN_RETURNS + 1`` bars and non-constant closes.
        n_paths: Number of paths, >= 1.
        seed: An int seed (bit-identical output for equal seeds) or a Generator.
        dist: Innovation distribution, ``"t"`` (Student-t) or ``"normal"``.
        params: Parameters of every scenario.

    Returns:
        A batch labelled ``"<path label> | GARCH i/n (t, seed s)"``.
    """
    n_paths = check_count("garch_paths n_paths", n_paths)
    if dist not in DISTRIBUTIONS:
        raise InvalidParameterError(
            f"garch_paths dist {dist!r} must be one of {', '.join(DISTRIBUTIONS)}"
        )
    if path.n_bars - 1 < MIN_RETURNS:
        raise InvalidParameterError(
            f"garch_paths needs at least {MIN_RETURNS} returns to fit; path {path.label!r} has "
            f"{path.n_bars - 1}. Use a longer period or stationary_bootstrap"
        )
    rng = make_rng(seed)
    returns = np.log(path.close[1:] / path.close[:-1])
    sd = returns.std(axis=0)
    if (sd == 0).any():
        flat = [path.symbols[j] for j in np.flatnonzero(sd == 0)]
        raise InvalidParameterError(
            f"garch_paths: the close of {', '.join(flat)} never changes; nothing to fit"
        )
    scaled = returns / sd
    fit = fit_garch(scaled, path.symbols, dist)
    z = _copula_innovations(rng, fit, (n_paths, path.n_bars - 1, path.n_symbols))
    persistence = fit["alpha"] + fit["beta"]
    shrink = np.minimum(1.0, MAX_PERSISTENCE / np.maximum(persistence, 1e-12))
    alpha, beta = fit["alpha"] * shrink, fit["beta"] * shrink
    var = scaled.var(axis=0)
    # Drift: the sample mean, not the fitted constant. The Student-t fit's location is a robust
    # estimate that sits well above the mean for negatively skewed returns (AAPL 2000-2013: about
    # twice), which compounds into paths far more optimistic than the history.
    mean = scaled.mean(axis=0)
    x, sigma = garch_recursion_nb(z, mean, var * (1.0 - alpha - beta), alpha, beta, var)
    close = path.close[0] * np.exp(np.cumsum(x * sd, axis=1))
    first_close = np.broadcast_to(path.close[0], (n_paths, 1, path.n_symbols))
    open_ = np.concatenate([first_close, close[:, :-1]], axis=1)

    bar = rng.integers(1, path.n_bars, size=(n_paths, path.n_bars - 1))
    top = np.maximum(path.open, path.close)
    bottom = np.minimum(path.open, path.close)
    widen = sigma  # sigma is in units of sd, so sigma'_t / sd == sigma here
    high = np.maximum(open_, close) * np.exp(np.log(path.high / top)[bar] * widen)
    low = np.minimum(open_, close) * np.exp(-np.log(bottom / path.low)[bar] * widen)
    arrays = {}
    for name, rest in (("open", open_), ("high", high), ("low", low), ("close", close),
                       ("volume", path.volume[bar])):
        first = np.broadcast_to(getattr(path, name)[0], (n_paths, 1, path.n_symbols))
        arrays[name] = np.concatenate([first, rest], axis=1)
    return synthetic_batch(path, arrays, params, f"GARCH {{i}}/{n_paths} ({dist}{seed_label(seed)})")


def _copula_innovations(rng: np.random.Generator, fit: dict[str, np.ndarray],
                        shape: tuple[int, int, int]) -> np.ndarray:
    """Unit-variance innovations ``[P, M, N]``: correlated normals mapped to each symbol's marginal."""
    from scipy import special, stats  # scipy.stats costs half a second to import; only needed here

    n_symbols = shape[2]
    corr = np.atleast_2d(np.corrcoef(fit["std_resid"], rowvar=False))
    # Shrink a hair toward the identity so Cholesky succeeds even for perfectly correlated symbols.
    corr = (1 - 1e-9) * corr + 1e-9 * np.eye(n_symbols)
    z = rng.standard_normal(shape) @ np.linalg.cholesky(corr).T
    nu = fit["nu"]
    if np.isinf(nu).all():
        return z
    # Evaluate the t quantile on the lower tail only (ndtr(-|z|)), where it keeps full precision.
    lower = stats.t.ppf(special.ndtr(-np.abs(z)), nu)
    return -np.sign(z) * lower * np.sqrt((nu - 2) / nu)
