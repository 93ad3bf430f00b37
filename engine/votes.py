"""How a team's discrete votes become one decision: the vote rules, declared once.

A tactical team's agents each vote short (0), hold (1) or long (2) for a symbol; a rule turns the
votes ``[..., agents]`` (and, for the weighted rule, their probabilities ``[..., agents, 3]``) into
one joint action ``[...]``. The training environments, the backtest policy and paper trading all
call :func:`team_decision`, so a team trades by the same rule wherever it runs.

Rules (:data:`VOTE_RULES`):

* ``plurality``: the action with strictly more votes than each other action; any tie is hold
  (``(long, long, short)`` is long, ``(long, short, hold)`` is hold). The PettingZoo environment's
  rule (``engine.envs.marl_env``).
* ``unanimous``: the agents' common action when every agent votes the same, else hold.
* ``weighted``: the argmax of the agents' probabilities averaged with ``weights`` (equal by
  default); ties are hold. It reads how sure each agent is, not only its vote.

Hold keeps the last target (``engine.actions.TacticalActions``), so "no agreement" never trades.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.errors import InvalidParameterError
from engine.names import check_one_of

SHORT, HOLD, LONG = 0, 1, 2
VOTE_RULES: tuple[str, ...] = ("plurality", "unanimous", "weighted")


def check_vote_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`VOTE_RULES`.

    Raises:
        InvalidParameterError: naming the rules.
    """
    return check_one_of("vote rule", rule, VOTE_RULES)


def plurality_vote(votes: np.ndarray) -> np.ndarray:
    """Joint action of ``votes [..., agents]``: the strict plurality, else hold."""
    counts = np.stack([(votes == a).sum(axis=-1) for a in (SHORT, HOLD, LONG)], axis=-1)
    return _unique_argmax(counts)


def unanimous_vote(votes: np.ndarray) -> np.ndarray:
    """Joint action of ``votes [..., agents]``: the common vote when all agree, else hold."""
    votes = np.asarray(votes)
    agree = np.all(votes == votes[..., :1], axis=-1)
    return np.where(agree, votes[..., 0], HOLD)


def weighted_vote(probabilities: np.ndarray, weights: Sequence[float] | None = None) -> np.ndarray:
    """Joint action of ``probabilities [..., agents, 3]``: argmax of their weighted mean, ties hold.

    Raises:
        InvalidParameterError: ``weights`` of the wrong length, negative, or summing to 0.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_agents = probabilities.shape[-2]
    w = np.full(n_agents, 1.0 / n_agents) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n_agents,) or np.any(w < 0) or not w.sum() > 0:
        raise InvalidParameterError(f"vote weights must be {n_agents} non-negative numbers with a positive sum, "
                                    f"got {weights!r}")
    mean = np.einsum("...ak,a->...k", probabilities, w / w.sum())
    return _unique_argmax(mean)


def team_decision(rule: str, votes: np.ndarray, probabilities: np.ndarray | None = None,
                  weights: Sequence[float] | None = None) -> np.ndarray:
    """The joint action ``[...]`` of ``votes [..., agents]`` under ``rule`` (module docstring).

    Raises:
        InvalidParameterError: an unknown rule, votes outside 0..2, or ``weighted`` without probabilities.
    """
    check_vote_rule(rule)
    votes = np.asarray(votes)
    if votes.size and (votes.min() < SHORT or votes.max() > LONG):
        raise InvalidParameterError(f"votes are 0 (short), 1 (hold) or 2 (long); got values {np.unique(votes)}")
    if rule == "plurality":
        return plurality_vote(votes)
    if rule == "unanimous":
        return unanimous_vote(votes)
    if probabilities is None:
        raise InvalidParameterError("the weighted vote reads the agents' probabilities; pass probabilities=")
    return weighted_vote(probabilities, weights)


def agreement(votes: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Share of agents whose vote equals the joint action, ``[...]`` in ``[0, 1]``."""
    return np.mean(np.asarray(votes) == np.asarray(joint)[..., None], axis=-1)


def _unique_argmax(scores: np.ndarray) -> np.ndarray:
    best = scores.argmax(axis=-1)
    top = np.take_along_axis(scores, best[..., None], axis=-1)
    unique = (scores == top).sum(axis=-1) == 1
    return np.where(unique, best, HOLD)
