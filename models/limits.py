"""Upper bounds of the training options: far beyond any useful run, below what would exhaust memory
(a rollout buffer of ``accounts x n_steps`` observations) or overflow a generator's seed."""
from __future__ import annotations

from engine.errors import InvalidParameterError

MAX_COUNTS: dict[str, int] = {
    "timesteps": 10**10, "accounts": 4096, "env_workers": 4096, "threads": 1024, "episode_length": 10**6,
    "n_steps": 10**6, "batch_size": 10**6, "n_minibatches": 10**6, "n_epochs": 10_000, "eval_every": 10**10,
    "eval_episodes": 10_000, "checkpoint_every": 10**10,
    "seed": 2**32 - 1,
}
MAX_ROLLOUT = 10**7
"""``accounts x n_steps`` at most: the observations one rollout keeps."""


def check_count(owner: str, name: str, value: object, low: int) -> int:
    """``value`` when it is an integer from ``low`` to ``MAX_COUNTS[name]``; else an InvalidParameterError
    naming ``owner.name``."""
    high = MAX_COUNTS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise InvalidParameterError(f"{owner}.{name} must be {kind}, got {value!r} (at most {high:_})")
    return value


def check_rollout(owner: str, accounts: int, n_steps: int) -> None:
    """Refuse a rollout of more than :data:`MAX_ROLLOUT` account steps."""
    if accounts * n_steps > MAX_ROLLOUT:
        raise InvalidParameterError(f"{owner}: a rollout of {accounts} accounts x {n_steps} steps keeps more than "
                                    f"{MAX_ROLLOUT:_} observations; lower --accounts or --n-steps")
