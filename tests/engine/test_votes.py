"""The team vote rules (engine.votes), worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from engine.actions import TacticalActions
from engine.errors import InvalidParameterError
from engine.votes import HOLD, LONG, SHORT, VOTE_RULES, agreement, team_decision

S, H, L = SHORT, HOLD, LONG
VOTES = np.array([[L, L, S], [L, S, H], [S, S, S], [H, L, H], [L, L, L], [S, H, H]])


def probabilities(votes: np.ndarray, sure: float = 0.8) -> np.ndarray:
    """Each agent puts ``sure`` on its vote and splits the rest."""
    p = np.full(votes.shape + (3,), (1.0 - sure) / 2.0)
    np.put_along_axis(p, votes[..., None], sure, axis=-1)
    return p


def test_plurality() -> None:
    np.testing.assert_array_equal(team_decision("plurality", VOTES), [L, H, S, H, L, H])


def test_unanimous() -> None:
    np.testing.assert_array_equal(team_decision("unanimous", VOTES), [H, H, S, H, L, H])


def test_weighted_reads_how_sure_each_agent_is() -> None:
    p = probabilities(VOTES)
    np.testing.assert_array_equal(team_decision("weighted", VOTES, p), [L, H, S, H, L, H])
    # One very sure short against two lukewarm longs: the mean favours short.
    p = np.array([[[0.1, 0.45, 0.45], [0.1, 0.45, 0.45], [0.98, 0.01, 0.01]]])
    assert team_decision("weighted", np.array([[L, L, S]]), p)[0] == S
    assert team_decision("plurality", np.array([[L, L, S]]))[0] == L
    # Weights: the third agent alone decides.
    assert team_decision("weighted", np.array([[L, L, S]]), probabilities(np.array([[L, L, S]])), [0, 0, 1])[0] == S


def test_a_weighted_tie_is_hold() -> None:
    p = np.array([[[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]]])
    assert team_decision("weighted", np.array([[S, L]]), p)[0] == H


def test_agreement_is_the_share_of_agents_voting_the_team_decision() -> None:
    joint = team_decision("plurality", VOTES)
    np.testing.assert_allclose(agreement(VOTES, joint), [2 / 3, 1 / 3, 1.0, 2 / 3, 1.0, 2 / 3])


@pytest.mark.parametrize("call, message", [
    (lambda: team_decision("majority", VOTES), "not one of plurality, unanimous, weighted"),
    (lambda: team_decision("plurality", VOTES + 1), "votes are 0"),
    (lambda: team_decision("weighted", VOTES), "probabilities="),
    (lambda: team_decision("weighted", VOTES, probabilities(VOTES), [1, -1, 1]), "non-negative"),
])
def test_bad_votes_are_refused(call, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        call()


def test_rules_are_listed_once() -> None:
    assert VOTE_RULES == ("plurality", "unanimous", "weighted")


def test_split_exposure_divides_the_target_among_the_symbols() -> None:
    kind, size = TacticalActions(split_across_symbols=True).path_intents(np.array([[L, S, H, L], [L, L, L, L]]))
    np.testing.assert_allclose(size[0], [0.25, -0.25, 0.0, 0.25])
    assert kind[0, 2] == 0 and kind[1, 0] == 0 and kind[1, 1] != 0  # unchanged targets send nothing
