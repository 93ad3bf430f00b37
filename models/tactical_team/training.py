"""Train a tactical team with MAPPO on a chronological split (CleanRL style: config, environments, run).

Reads top to bottom: :class:`TeamTrainingConfig` (every knob, documented; the MAPPO knobs are
``models.mappo.MappoArgs``), :func:`fit_team_normalizer` (z-scores of the seven tactical columns on
the training period only), :func:`make_training_env` (``accounts`` accounts x every symbol of the
training data, ``models.tactical_team.env``), then :func:`train_tactical_team`, which runs
``models.mappo.train_mappo`` with a validation and returns a :class:`TeamTrainingResult` ready for
``models.checkpoint.save_checkpoint``.

Validation is a backtest: the caller passes ``validate(team, normalizer, data)``, which trades the
validation period as ``workbench backtest --policy ... --start VALIDATION_START`` would (the tactical
family's ``strategies.tactical.validation_backtest``), and the weights with the best validation
Sharpe are kept. The team trains on ``config.mappo.device`` but is validated on the CPU (a copy of
its weights, ``models.mappo``): the validation figures are the CPU reference's, what a CPU backtest
of the saved weights gives, and the validation backtest (one account, a batch of a few symbols a
bar) is latency-bound, where a GPU does not help. Choosing on the validation period flatters its
figures, so a third, later period (``test``) can be held out: the chosen weights trade it once, after
training, and its ``test/...`` metrics are the honest out-of-sample ones. Both go into the model card
as they are, good or bad.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from engine.data.market import MarketData
from engine.envs.episode import EpisodeConfig
from engine.errors import InvalidParameterError
from engine.feature_windows import compute_family, fit_normalizer
from engine.features.matrices import tactical_features
from engine.features.normalize import FittedNormalizer
from engine.rewards import RewardScales, RewardWeights
from engine.scenarios import ScenarioParams, from_market
from engine.votes import check_vote_rule
from models.checkpoint import ModelCard
from models.devices import device_description
from models.mappo import MappoArgs, MappoResult, train_mappo
from models.spec import tactical_action_spec, tactical_observation_spec
from models.tactical_team.config import team_config
from models.tactical_team.env import REWARD_MODES, TacticalTeamEnv
from models.tactical_team.network import ARCHITECTURE, TacticalTeam, parameter_report

Validate = Callable[[TacticalTeam, FittedNormalizer, MarketData], Mapping[str, float]]
"""``(team, normalizer, validation data) -> validation/... metrics`` (a backtest of the period)."""


@dataclass(frozen=True)
class TeamTrainingConfig:
    """What a tactical team training run does (besides ``mappo``).

    Attributes:
        preset: Team sizes (``models.tactical_team.config.TEAM_PRESETS``).
        vote: The vote rule of training, validation and the saved policy (``engine.votes``).
        exposure: Exposure of a book whose every symbol is long (split across the symbols).
        accounts: Training accounts; each trades every symbol of the training data.
        episode_length: Decisions per training episode (random, seeded starts in the training period).
        reward_mode: ``team`` (the symbol's engine reward, shared) or ``vote_pnl`` (each agent's own vote).
        fees, slippage: Costs of training and validation (fractions of notional and of the open).
        allow_short: Whether short targets are held short; the workbench's backtests are long-only by
            default (short reads flat), and training trades as the policy will be run.
        reward_weights: The engine reward's weights; ``sizing`` is 0 (it rewards the symbol agent's 6%
            bet size, not the team's) and the rest are the program plan's.
        reward_scales: ``pnl_scale`` 0.2% (a 5-minute bar moves a tenth of a daily one; the default 1%
            would leave the profit signal near zero).
        mappo: The trainer's settings, with ``n_steps`` steps per update and the ``device`` it trains on
            (``auto``: CUDA when torch sees one); the card's ``trained_on`` names the device it resolved to.
    """

    preset: str = "compact"
    vote: str = "plurality"
    exposure: float = 1.0
    accounts: int = 8
    episode_length: int = 128
    reward_mode: str = "team"
    fees: float = 0.0002
    slippage: float = 0.0001
    allow_short: bool = False
    reward_weights: RewardWeights = field(default_factory=lambda: RewardWeights(sizing=0.0))
    reward_scales: RewardScales = field(default_factory=lambda: RewardScales(pnl_scale=0.002))
    mappo: MappoArgs = field(default_factory=MappoArgs)

    def __post_init__(self) -> None:
        team_config(self.preset)
        check_vote_rule(self.vote)
        for name in ("accounts", "episode_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"TeamTrainingConfig.{name} must be a positive integer, got {value!r}")
        if self.reward_mode not in REWARD_MODES:
            raise InvalidParameterError(f"reward_mode {self.reward_mode!r} is not one of {', '.join(REWARD_MODES)}")
        if not (isinstance(self.exposure, (int, float)) and 0.0 < self.exposure <= 1.0):
            raise InvalidParameterError(f"exposure must be in (0, 1], got {self.exposure!r}")
        self.params()  # ScenarioParams checks the costs

    def params(self) -> ScenarioParams:
        """Costs and limits of every training and validation account."""
        return ScenarioParams(fees=self.fees, slippage=self.slippage, allow_short=self.allow_short)

    def card_settings(self) -> dict[str, Any]:
        """What the model card records of the run (JSON types)."""
        data = dataclasses.asdict(self)
        data.pop("mappo")
        return data


@dataclass(frozen=True)
class TeamTrainingResult:
    """A trained team and what goes into its checkpoint."""

    team: TacticalTeam
    card: ModelCard
    normalizer: FittedNormalizer
    mappo: MappoResult


def fit_team_normalizer(train: MarketData) -> FittedNormalizer:
    """Z-scores of the seven tactical columns on every bar and symbol of ``train`` (pooled)."""
    batch = from_market(train)
    values, columns = compute_family(batch, tactical_features)
    return fit_normalizer(batch, values, columns, (train.index[0], train.index[-1]))


def make_training_env(train: MarketData, normalizer: FittedNormalizer, config: TeamTrainingConfig) -> TacticalTeamEnv:
    """``accounts`` copies of the training data, each on its own seeded episode window."""
    return TacticalTeamEnv(train, normalizer, team_config(config.preset).agents,
                           params=[config.params()] * config.accounts,
                           episode=EpisodeConfig(episode_length=config.episode_length), vote=config.vote,
                           exposure=config.exposure, reward_mode=config.reward_mode,
                           reward_weights=config.reward_weights, reward_scales=config.reward_scales)


def card_config(config: TeamTrainingConfig, team: TacticalTeam, test_period: tuple[str, str] | None = None
                ) -> dict[str, Any]:
    """The card's ``config``: the team's sizes, its decision rule and how it was trained (with the
    held-out test period, when there was one)."""
    return {"preset": config.preset, "network": team.config.to_dict(), "vote": config.vote, "vote_weights": None,
            "exposure": config.exposure, "parameters": parameter_report(team),
            "training": {**config.card_settings(), "test_period": None if test_period is None else list(test_period)},
            "mappo": config.mappo.to_dict()}


def train_tactical_team(train: MarketData, validation: MarketData, config: TeamTrainingConfig, validate: Validate, *,
                        run_dir: str | Path, code_version: str, test: MarketData | None = None, resume: bool = False,
                        progress: Callable[[int, int], None] | None = None, verbose: bool = False
                        ) -> TeamTrainingResult:
    """Train a team on ``train``, validate it on ``validation`` and keep the best weights.

    Args:
        train: The training period's data.
        validation: The validation period's data (after the training period).
        config: The run's settings.
        test: A held-out period after the validation period, traded once by the chosen weights.
        validate: The validation backtest (module docstring).
        run_dir: Logs and training checkpoints (``models.mappo``).
        code_version: Recorded in the model card.
        resume: Continue the run in ``run_dir`` from its last checkpoint.
        progress: Called with ``(timesteps done, total)`` after each update.
        verbose: Print the logger's tables.

    Raises:
        InvalidParameterError: the validation period does not start after the training period, or the
            test period after the validation period.
    """
    if validation.index[0] <= train.index[-1]:
        raise InvalidParameterError(f"the validation period ({validation.index[0]}) must start after the training "
                                    f"period ends ({train.index[-1]})")
    if test is not None and test.index[0] <= validation.index[-1]:
        raise InvalidParameterError(f"the test period ({test.index[0]}) must start after the validation period ends "
                                    f"({validation.index[-1]}): the weights are chosen on the validation period")
    normalizer = fit_team_normalizer(train)
    env = make_training_env(train, normalizer, config)
    torch.manual_seed(config.mappo.seed)
    team = TacticalTeam(team_config(config.preset))
    result = train_mappo(env, team, config.mappo, run_dir, evaluate=lambda network: validate(network, normalizer,
                                                                                           validation),
                         resume=resume, progress=progress, verbose=verbose)
    held_out = {}
    if test is not None:
        held_out = {f"test/{k.split('/', 1)[1]}": v for k, v in validate(result.network, normalizer, test).items()}
    training_metrics = {**result.train_metrics, "train/timesteps": float(result.timesteps),
                        "train/updates": float(result.updates), "train/seconds": result.seconds,
                        "train/decisions_per_second": result.timesteps / max(result.seconds, 1e-9)}
    test_period = None if test is None else (test.index[0].isoformat(), test.index[-1].isoformat())
    card = ModelCard(
        architecture=ARCHITECTURE,
        config={**card_config(config, team, test_period), "trained_on": device_description(result.device)},
        train_period=(train.index[0].isoformat(), train.index[-1].isoformat()),
        validation_period=(validation.index[0].isoformat(), validation.index[-1].isoformat()),
        data_fingerprint=train.fingerprint(), seed=config.mappo.seed, code_version=code_version,
        training_metrics={k: _finite(v) for k, v in training_metrics.items()},
        validation_metrics={k: _finite(v) for k, v in {**(result.best_metrics or {}), **held_out}.items()},
        observation_spec=tactical_observation_spec(), action_spec=tactical_action_spec())
    return TeamTrainingResult(result.network.eval(), card, normalizer, result)


def _finite(value: float) -> float | None:
    """JSON has no NaN: a metric that is not a number (a flat validation's Sharpe) is recorded as null."""
    value = float(value)
    return value if math.isfinite(value) else None

