"""``workbench train symbol-agent`` (MaskablePPO), ``workbench train master-agent`` (PPO over a frozen
symbol agent) and ``workbench train tactical-team`` (MAPPO): train, then save the best checkpoint by
validation Sharpe."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from engine.atomic_files import check_output_folder
from engine.errors import InvalidParameterError
from engine.votes import VOTE_RULES
from models.checkpoint import save_checkpoint
from models.devices import DEVICES
from models.mappo import MappoArgs
from models.master_agent.policy_network import MASTER_PRESETS
from models.master_agent.training import MasterTrainingConfig, train_master_agent
from models.symbol_agent.network import AGENT_PRESETS
from models.symbol_agent.training import TrainingConfig, train_symbol_agent
from models.tactical_team.config import TEAM_PRESETS
from models.tactical_team.env import REWARD_MODES
from models.tactical_team.training import TeamTrainingConfig, train_tactical_team
from strategies.families.symbol_agent import SYMBOL_AGENT
from strategies.tactical import validation_backtest
from workbench.commands.options import parse_period
from workbench.commands.output import print_table
from workbench.experiments.executors import EXECUTORS
from workbench.policies import load_family_policy
from workbench.runs.evaluate import code_version
from workbench.services.datasets import load_dataset
from workbench.services.ray_training import training_shard_runner

DEFAULT_PERIODS: dict[str, tuple[str, str]] = {"stocks": ("2000-01-01:2007-12-31", "2008-01-01:2010-12-31")}
"""Per-dataset default ``(train, validation)`` periods (the issue's split for ``stocks``)."""

TRAIN_SHARE = 0.8
"""Without a default or ``--train``/``--val``: the first 80% of bars train, the rest validate."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train",
                                 description="Train a neural policy and save it as a checkpoint folder.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    agent = kinds.add_parser(
        "symbol-agent", help="train the symbol agent with MaskablePPO",
        description=("Train the symbol agent (transformer encoder, masked actor-critic) with sb3-contrib "
                     "MaskablePPO on the training period, validate it on the validation period every "
                     "--eval-every steps, and save the best weights (by validation Sharpe) to --out."),
        epilog="Default periods: stocks trains 2000-2007 and validates 2008-2010; other datasets train on "
               "the first 80%% of their bars.")
    agent.add_argument("--preset", default="compact", help=f"agent size: {', '.join(AGENT_PRESETS)} (default compact)")
    agent.add_argument("--data", required=True, metavar="DATASET_OR_PATH", help="dataset name or file")
    agent.add_argument("--symbols", help="comma-separated symbols (default: all)")
    _training_arguments(agent, TrainingConfig, "environment steps", "sub-environment")
    agent.add_argument("--batch-size", type=int, default=TrainingConfig.batch_size,
                       help=f"PPO minibatch size (default {TrainingConfig.batch_size})")
    agent.add_argument("--n-epochs", type=int, default=TrainingConfig.n_epochs,
                       help=f"PPO epochs per update (default {TrainingConfig.n_epochs})")
    agent.add_argument("--env-workers", type=int, default=TrainingConfig.env_workers, metavar="K",
                       help="cut the training accounts into K shards stepped as rollout workers, 1 to --accounts "
                            "(default 1); results depend on K, not on --executor")
    agent.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local: the shards step one after the other in this process (default); ray: one Ray "
                            "actor per shard, stepped in parallel, on the cluster at RAY_ADDRESS or a local Ray "
                            "instance when unset (needs rl-trading-workbench[ray])")
    agent.set_defaults(handler=run)
    _register_master(kinds)
    _register_tactical(kinds)


def _register_master(kinds: argparse._SubParsersAction) -> None:
    master = kinds.add_parser(
        "master-agent", help="train the master (portfolio) agent with PPO over a frozen symbol agent",
        description=("Train the master agent (attention over the symbol agent's frozen embeddings -> target "
                     "weights per symbol and cash) with PPO on accounts trading the training period, validate "
                     "it every --eval-every steps, and save the best weights (by validation Sharpe) to --out "
                     "with the frozen encoder inside."),
        epilog="Defaults: the symbol agent's dataset and symbols; periods as for symbol-agent.")
    master.add_argument("--symbol-agent", required=True, metavar="NAME_OR_PATH",
                        help="shipped symbol agent (workbench models list) or checkpoint folder; its encoder is frozen")
    master.add_argument("--preset", default="compact",
                        help=f"master size: {', '.join(MASTER_PRESETS)} (default compact)")
    master.add_argument("--data", metavar="DATASET_OR_PATH", help="dataset (default: the symbol agent's)")
    master.add_argument("--symbols", help="comma-separated symbols (default: the symbol agent's)")
    _training_arguments(master, MasterTrainingConfig, "account decisions", "account")
    master.set_defaults(handler=run_master)


def _register_tactical(kinds: argparse._SubParsersAction) -> None:
    team = kinds.add_parser(
        "tactical-team", help="train the tactical team (FVG, Momentum, Entry) with MAPPO",
        description=("Train the tactical team (three attention actors over the 60 x 7 tactical matrix, a "
                     "centralised critic) with MAPPO on accounts trading every symbol of the training period, "
                     "validate it every --eval-every steps with a backtest of the validation period, and save "
                     "the best weights (by validation Sharpe) to --out. The MAPPO defaults are the tactical-team "
                     "specification's tuned values."),
        epilog="Without --train/--val the first 80%% of the bars train and the rest validate.")
    team.add_argument("--preset", default="compact", choices=tuple(TEAM_PRESETS),
                      help="team size (default compact; seed is the specification's)")
    team.add_argument("--data", required=True, metavar="DATASET_OR_PATH", help="dataset name or file")
    team.add_argument("--symbols", help="comma-separated symbols (default: all)")
    defaults, mappo = TeamTrainingConfig(), MappoArgs()
    team.add_argument("--train", metavar="START:END", help="training period, e.g. 2024-01-02:2024-02-29")
    team.add_argument("--val", metavar="START:END", help="validation period (chooses the best weights)")
    team.add_argument("--test", metavar="START:END",
                      help="held-out period after --val, traded once by the chosen weights (honest out-of-sample "
                           "figures in the model card's test/... metrics)")
    team.add_argument("--timesteps", type=int, default=mappo.total_timesteps,
                      help=f"team decisions, over every account and symbol (default {mappo.total_timesteps})")
    team.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    team.add_argument("--accounts", type=int, default=defaults.accounts,
                      help=f"parallel training accounts, each trading every symbol (default {defaults.accounts})")
    team.add_argument("--n-steps", type=int, default=mappo.n_steps,
                      help=f"rollout steps per account between updates (default {mappo.n_steps})")
    team.add_argument("--episode-length", type=int, default=defaults.episode_length,
                      help=f"decisions per training episode (default {defaults.episode_length})")
    team.add_argument("--eval-every", type=int, default=0,
                      help="validate every N steps, 0 = only at the end (default 0)")
    team.add_argument("--vote", choices=VOTE_RULES, default=defaults.vote,
                      help="how the three votes become one order (default plurality)")
    team.add_argument("--reward-mode", choices=REWARD_MODES, default=defaults.reward_mode,
                      help="team: the symbol's engine reward, shared; vote_pnl: each agent's own vote (default team)")
    team.add_argument("--learning-rate", type=float, default=mappo.learning_rate,
                      help=f"Adam step size (default {mappo.learning_rate:g})")
    team.add_argument("--run-dir", type=Path, metavar="DIR",
                      help="keep the logs and training checkpoints here (default: a temporary folder)")
    team.add_argument("--checkpoint-every", type=int, default=0, metavar="UPDATES",
                      help="write DIR/checkpoints/last every N updates (default: after the last)")
    team.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    team.add_argument("--out", required=True, type=Path, metavar="DIR", help="checkpoint folder to create")
    team.add_argument("--no-progress", action="store_true", help="no progress bar")
    team.set_defaults(handler=run_tactical)


def _training_arguments(parser: argparse.ArgumentParser, defaults: type, steps: str, rollout_unit: str) -> None:
    """The options both trainers take: periods, budget, seed, device, accounts, rollout, validation, output."""
    parser.add_argument("--train", metavar="START:END", help="training period, e.g. 2000-01-01:2007-12-31")
    parser.add_argument("--val", metavar="START:END", help="validation period, e.g. 2008-01-01:2010-12-31")
    parser.add_argument("--timesteps", type=int, default=defaults.timesteps,
                        help=f"{steps} (default {defaults.timesteps})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="torch device (default auto)")
    parser.add_argument("--accounts", type=int, default=defaults.accounts,
                        help=f"parallel training accounts (default {defaults.accounts})")
    parser.add_argument("--n-steps", type=int, default=defaults.n_steps,
                        help=f"rollout steps per {rollout_unit} (default {defaults.n_steps})")
    parser.add_argument("--episode-length", type=int, default=defaults.episode_length,
                        help=f"decisions per training episode (default {defaults.episode_length})")
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every,
                        help=f"validate every N steps, 0 = only at the end (default {defaults.eval_every})")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="checkpoint folder to create")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    _check_options(args.out, args.symbols)
    config = TrainingConfig(
        preset=args.preset, timesteps=args.timesteps, seed=args.seed, device=args.device, accounts=args.accounts,
        episode_length=args.episode_length, n_steps=args.n_steps, batch_size=args.batch_size,
        n_epochs=args.n_epochs, eval_every=args.eval_every, env_workers=args.env_workers)
    shard_runner = training_shard_runner(args.executor)
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    data = load_dataset(args.data, symbols=symbols)
    train, validation, history = split_periods(data, args.data, args.train, args.val)
    print(f"training {config.preset} symbol agent on {args.data} ({', '.join(data.symbols)}): "
          f"train {train.index[0].date()}..{train.index[-1].date()}, "
          f"validate {validation.index[0].date()}..{validation.index[-1].date()}, {config.timesteps} steps, "
          f"{config.env_workers} env worker(s) ({args.executor})")
    with tempfile.TemporaryDirectory(prefix="workbench-train-") as log_dir:
        result = train_symbol_agent(train, history, (validation.index[0], validation.index[-1]), config,
                                    log_dir=log_dir, code_version=code_version(), progress=not args.no_progress,
                                    shard_runner=shard_runner)
        card = dataclasses.replace(result.card, dataset={"name": args.data, "symbols": list(data.symbols)})
        card = save_checkpoint(args.out, result.agent, card, result.normalizer)
        keep_logs(Path(log_dir), args.out)
    metrics = card.validation_metrics
    print_table(["METRIC", "VALUE"], [[k, f"{v:.4g}"] for k, v in metrics.items()])
    print(f"{card.training_metrics['train/steps_per_second']:.0f} steps/s; checkpoint saved to {args.out}")
    return 0


def run_master(args: argparse.Namespace) -> int:
    _check_options(args.out, args.symbols)
    config = MasterTrainingConfig(
        preset=args.preset, timesteps=args.timesteps, seed=args.seed, device=args.device, accounts=args.accounts,
        n_steps=args.n_steps, episode_length=args.episode_length, eval_every=args.eval_every)
    symbol_agent = load_family_policy(args.symbol_agent, SYMBOL_AGENT.name, runtime="torch")
    source = symbol_agent.card
    dataset = args.data or source.dataset.get("name")
    if not dataset:
        raise InvalidParameterError(f"the symbol agent {args.symbol_agent!r} does not name its dataset; pass --data")
    symbols = ([s.strip() for s in args.symbols.split(",")] if args.symbols
               else source.dataset.get("symbols") if dataset == source.dataset.get("name") else None)
    data = load_dataset(dataset, symbols=symbols)
    train, validation, history = split_periods(data, dataset, args.train, args.val)
    encoder_seen = source.train_period[1]
    if encoder_seen is not None and validation.index[0] <= _timestamp(encoder_seen, validation.index):
        raise InvalidParameterError(
            f"the validation period ({validation.index[0].date()}) must start after the symbol agent's training "
            f"period ends ({encoder_seen[:10]}): its frozen encoder has seen those bars. Choose a later --val")
    print(f"training {config.preset} master agent over {symbol_agent.policy.name} on {dataset} "
          f"({', '.join(data.symbols)}): train {train.index[0].date()}..{train.index[-1].date()}, "
          f"validate {validation.index[0].date()}..{validation.index[-1].date()}, {config.timesteps} steps")
    info = {"name": symbol_agent.policy.name, "weights_sha256": source.weights_sha256,
            "train_period": list(source.train_period), "validation_period": list(source.validation_period)}
    with tempfile.TemporaryDirectory(prefix="workbench-train-") as log_dir:
        result = train_master_agent(train, history, (validation.index[0], validation.index[-1]),
                                    symbol_agent.network.encoder, symbol_agent.normalizer, info, config,
                                    log_dir=log_dir, code_version=code_version(), progress=not args.no_progress)
        card = dataclasses.replace(result.card, dataset={"name": dataset, "symbols": list(data.symbols)})
        card = save_checkpoint(args.out, result.network, card, result.normalizer)
        keep_logs(Path(log_dir), args.out)
    print_table(["METRIC", "VALUE"], [[k, f"{v:.4g}"] for k, v in card.validation_metrics.items()])
    print(f"{card.training_metrics['train/steps_per_second']:.0f} steps/s; checkpoint saved to {args.out}")
    return 0


def _check_options(out: Path, symbols: str | None) -> None:
    """Refuse an --out that exists or could not be created, and an empty --symbols, before any training."""
    if symbols is not None and not symbols.strip(" ,"):
        raise InvalidParameterError("--symbols '' names no symbol; leave it out for the default symbols")
    if out.exists():
        raise InvalidParameterError(f"--out {out} already exists; choose a new checkpoint folder")
    check_output_folder(out, "--out")


def run_tactical(args: argparse.Namespace) -> int:
    _check_options(args.out, args.symbols)
    if args.resume and args.run_dir is None:
        raise InvalidParameterError("--resume continues the run kept in --run-dir; pass --run-dir")
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    data = load_dataset(args.data, symbols=symbols)
    train, validation, _ = split_periods(data, args.data, args.train, args.val)
    test = _slice(data, parse_period("--test", args.test), "--test") if args.test else None
    per_update = args.n_steps * args.accounts * train.n_symbols
    mappo = MappoArgs(seed=args.seed, total_timesteps=args.timesteps, n_steps=args.n_steps,
                      learning_rate=args.learning_rate, checkpoint_every=args.checkpoint_every,
                      eval_every=math.ceil(args.eval_every / per_update) if args.eval_every > 0 else 0)
    config = TeamTrainingConfig(preset=args.preset, vote=args.vote, accounts=args.accounts,
                                episode_length=args.episode_length, reward_mode=args.reward_mode, mappo=mappo)
    print(f"training {config.preset} tactical team on {args.data} ({', '.join(data.symbols)}): "
          f"train {train.index[0]}..{train.index[-1]}, validate {validation.index[0]}..{validation.index[-1]}, "
          + (f"test {test.index[0]}..{test.index[-1]}, " if test is not None else "")
          + f"{mappo.n_updates(args.accounts * train.n_symbols)} updates of {per_update} decisions, vote {config.vote}")
    validate = functools.partial(validation_backtest, vote=config.vote, exposure=config.exposure,
                                 params=config.params())
    with tempfile.TemporaryDirectory(prefix="workbench-train-") as temporary:
        run_dir = args.run_dir or Path(temporary)
        bar = None if args.no_progress else _TimestepBar("training tactical team")
        result = train_tactical_team(train, validation, config, validate, run_dir=run_dir,
                                     code_version=code_version(), test=test, resume=args.resume,
                                     progress=None if bar is None else bar.update)
        if bar is not None:
            bar.close()
        card = dataclasses.replace(result.card, dataset={"name": args.data, "symbols": list(data.symbols)})
        card = save_checkpoint(args.out, result.team, card, result.normalizer)
        keep_logs(run_dir, args.out)
    metrics = card.validation_metrics
    keys = ("sharpe", "total_return", "max_drawdown", "n_trades", "time_in_market", "agreement", "fvg_focus",
            "momentum_focus", "entry_balance", "update")
    rows = [[f"{part}/{k}", _shown(metrics.get(f"{part}/{k}"))] for part in ("validation", "test") for k in keys
            if f"{part}/{k}" in metrics]
    print_table(["METRIC", "VALUE"], rows)
    print(f"{card.training_metrics['train/decisions_per_second']:.0f} decisions/s; checkpoint saved to {args.out}")
    return 0


class _TimestepBar:
    """A tqdm bar fed with ``(done, total)``."""

    def __init__(self, description: str) -> None:
        self.description, self.bar, self.done = description, None, 0

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, initial=0, unit="decision", desc=self.description)
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _timestamp(text: str, index: pd.DatetimeIndex) -> pd.Timestamp:
    """``text`` as a timestamp comparable with ``index`` (same time zone, or both naive)."""
    stamp = pd.Timestamp(text)
    if index.tz is None:
        return stamp.tz_localize(None) if stamp.tz is not None else stamp
    return stamp.tz_localize(index.tz) if stamp.tz is None else stamp.tz_convert(index.tz)


def resolve_periods(dataset: str, index: pd.DatetimeIndex, train: str | None,
                    val: str | None) -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]]:
    """The ``(start, end)`` training and validation periods from the options or the defaults."""
    if train is None or val is None:
        if dataset in DEFAULT_PERIODS:
            default_train, default_val = DEFAULT_PERIODS[dataset]
        else:
            split = index[int(len(index) * TRAIN_SHARE)]
            default_train = f"{index[0].isoformat()}:{index[int(len(index) * TRAIN_SHARE) - 1].isoformat()}"
            default_val = f"{split.isoformat()}:{index[-1].isoformat()}"
        train = train if train is not None else default_train
        val = val if val is not None else default_val
    return parse_period("--train", train), parse_period("--val", val)


def split_periods(data, dataset: str, train: str | None, val: str | None):
    """``(train, validation, history)`` slices of ``data`` from the options or the dataset's defaults;
    history runs from the training start to the validation end (the validation warm-up).

    Raises:
        InvalidParameterError: a period holds fewer than 2 bars, or validation does not start after training.
    """
    train_period, val_period = resolve_periods(dataset, data.index, train, val)
    train_part = _slice(data, train_period, "--train")
    validation = _slice(data, val_period, "--val")
    if validation.index[0] <= train_part.index[-1]:
        raise InvalidParameterError(
            f"the validation period ({validation.index[0].date()}) must start after the training period "
            f"ends ({train_part.index[-1].date()}); otherwise validation scores are in-sample")
    return train_part, validation, data.slice(train_part.index[0], validation.index[-1])


def _slice(data, period: tuple[str | None, str | None], option: str):
    part = data.slice(*period)
    if len(part.index) < 2:
        raise InvalidParameterError(
            f"{option} {period[0]}:{period[1]} holds {len(part.index)} bar(s) of the data "
            f"({data.index[0].date()}..{data.index[-1].date()}); choose a period inside it")
    return part


def keep_logs(log_dir: Path, out: Path) -> None:
    """Copy the training logs into the saved checkpoint folder: ``progress.csv`` and the TensorBoard
    event files (``tensorboard/``; view them with ``tensorboard --logdir OUT/tensorboard``)."""
    shutil.copyfile(log_dir / "progress.csv", out / "progress.csv")
    events = sorted(log_dir.glob("events.out.tfevents.*"))
    if events:
        (out / "tensorboard").mkdir(exist_ok=True)
        for event in events:
            shutil.copyfile(event, out / "tensorboard" / event.name)
