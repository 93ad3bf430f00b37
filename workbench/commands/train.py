"""``workbench train symbol-agent`` (MaskablePPO, optionally after an Optuna search), ``workbench train
master-agent`` (PPO over a frozen symbol agent) and ``workbench train tactical-team`` (MAPPO): train, then
save the best checkpoint by validation and, with a test period, its held-out figures and a comparison
with the baselines."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from engine.atomic_files import check_output_folder
from engine.errors import InvalidParameterError
from engine.rewards import RewardWeights
from engine.votes import VOTE_RULES
from models.checkpoint import save_checkpoint, update_card
from models.devices import DEVICES, resolve_device
from models.mappo import MappoArgs
from models.master_agent.policy_network import MASTER_PRESETS
from models.master_agent.training import MasterTrainingConfig, train_master_agent
from models.schedules import parse_schedule
from models.splits import DataSplit, split_data
from models.symbol_agent.network import AGENT_PRESETS
from models.symbol_agent.resume import resume_points
from models.symbol_agent.search import search_symbol_agent
from models.symbol_agent.training import TrainingConfig, train_symbol_agent
from models.tactical_team.config import TEAM_PRESETS
from models.tactical_team.env import REWARD_MODES
from models.tactical_team.training import TeamTrainingConfig, train_tactical_team
from strategies.families.symbol_agent import SYMBOL_AGENT
from strategies.tactical import validation_backtest
from workbench.commands.options import parse_period
from workbench.commands.output import cell, print_table
from workbench.experiments.executors import EXECUTORS
from workbench.experiments.held_out import compare_held_out
from workbench.policies import load_family_policy
from workbench.runs.evaluate import code_version
from workbench.services.datasets import load_dataset
from workbench.services.ray_training import training_shard_runner

PERIODS_EPILOG = ("Periods: without --train, --val and --test the bars split 70/15/15 in time (train, validate, "
                  "test); --train/--val replace their default and then there is a test period only with --test "
                  "(--test none: none).")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train",
                                 description="Train a neural policy and save it as a checkpoint folder.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    defaults = TrainingConfig()
    agent = kinds.add_parser(
        "symbol-agent", help="train the symbol agent with MaskablePPO",
        description=("Train the symbol agent (transformer encoder, masked actor-critic) with sb3-contrib "
                     "MaskablePPO on the training period, validate it every --eval-every steps over "
                     "--eval-episodes episodes of the validation period, keep the best weights, trade the test "
                     "period once with them, and save the checkpoint to --out. With --search N, N Optuna "
                     "trials choose the hyperparameters first."),
        epilog=PERIODS_EPILOG.replace("%", "%%"))
    agent.add_argument("--preset", default="compact", help=f"agent size: {', '.join(AGENT_PRESETS)} (default compact)")
    agent.add_argument("--data", required=True, metavar="DATASET_OR_PATH", help="dataset name or file")
    agent.add_argument("--symbols", help="comma-separated symbols (default: all)")
    _training_arguments(agent, TrainingConfig, "environment steps", "sub-environment")
    agent.add_argument("--batch-size", type=int, default=defaults.batch_size,
                       help=f"PPO minibatch size (default {defaults.batch_size})")
    agent.add_argument("--n-epochs", type=int, default=defaults.n_epochs,
                       help=f"PPO epochs per update (default {defaults.n_epochs})")
    agent.add_argument("--learning-rate", metavar="START[:END]", default=_schedule_text(defaults.learning_rate),
                       help="Adam learning rate, cosine from START to END over the run "
                            f"(default {_schedule_text(defaults.learning_rate)})")
    agent.add_argument("--ent-coef", metavar="START[:END]", default=_schedule_text(defaults.ent_coef),
                       help="entropy coefficient, linear from START to END over the run "
                            f"(default {_schedule_text(defaults.ent_coef)})")
    agent.add_argument("--clip-range", type=float, default=defaults.clip_range,
                       help=f"PPO clip range (default {defaults.clip_range})")
    agent.add_argument("--reward-weights", metavar="NAME=W,...",
                       help="reward weights that differ from the training defaults, e.g. hold=0,pnl=0.5 "
                            f"(defaults: {_weights_text(defaults.reward_weights)})")
    agent.add_argument("--eval-episodes", type=int, default=defaults.eval_episodes,
                       help=f"staggered validation episodes per validation (default {defaults.eval_episodes})")
    agent.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every, metavar="N",
                       help=f"write a resume point every N steps, 0 = never (default {defaults.checkpoint_every})")
    agent.add_argument("--checkpoints", type=Path, metavar="DIR",
                       help="folder of the resume points (default OUT.checkpoints); removed once OUT is saved")
    agent.add_argument("--resume", action="store_true",
                       help="continue from the newest resume point in --checkpoints (same options and data)")
    agent.add_argument("--search", type=int, default=0, metavar="N",
                       help="first run N Optuna trials over the plan's ranges, scored on validation, then train "
                            "the best for --timesteps (default 0: no search)")
    agent.add_argument("--search-timesteps", type=int, metavar="T",
                       help="timesteps of each search trial (default a quarter of --timesteps)")
    agent.add_argument("--env-workers", type=int, default=defaults.env_workers, metavar="K",
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
                     "with the frozen encoder inside; with a test period, trade it once at the end."),
        epilog="Defaults: the symbol agent's dataset and symbols. " + PERIODS_EPILOG.replace("%", "%%"))
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
        epilog=PERIODS_EPILOG.replace("%", "%%"))
    team.add_argument("--preset", default="compact", choices=tuple(TEAM_PRESETS),
                      help="team size (default compact; seed is the specification's)")
    team.add_argument("--data", required=True, metavar="DATASET_OR_PATH", help="dataset name or file")
    team.add_argument("--symbols", help="comma-separated symbols (default: all)")
    defaults, mappo = TeamTrainingConfig(), MappoArgs()
    team.add_argument("--train", metavar="START:END", help="training period, e.g. 2024-01-02:2024-02-29")
    team.add_argument("--val", metavar="START:END", help="validation period (chooses the best weights)")
    team.add_argument("--test", metavar="START:END|none",
                      help="held-out period after --val, traded once by the chosen weights (honest out-of-sample "
                           "figures in the model card's test/... metrics)")
    team.add_argument("--timesteps", type=int, default=mappo.total_timesteps,
                      help=f"team decisions, over every account and symbol (default {mappo.total_timesteps})")
    team.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    team.add_argument("--device", default="auto", choices=DEVICES, help="torch device (default auto)")
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
    parser.add_argument("--train", metavar="START:END", help="training period, e.g. 2000-03-01:2009-04-07")
    parser.add_argument("--val", metavar="START:END", help="validation period, e.g. 2009-04-08:2011-03-18")
    parser.add_argument("--test", metavar="START:END|none", help="test period, traded once at the end")
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
    started = time.perf_counter()
    _check_options(args.out, args.symbols)
    checkpoints = args.checkpoints or args.out.with_name(args.out.name + ".checkpoints")
    if args.resume and not resume_points(checkpoints):
        raise InvalidParameterError(f"--resume: {checkpoints} holds no resume points; start without --resume")
    if not args.resume and resume_points(checkpoints):
        raise InvalidParameterError(f"{checkpoints} holds the resume points of an earlier run; continue it with "
                                    "--resume or remove the folder")
    config = TrainingConfig(
        preset=args.preset, timesteps=args.timesteps, seed=args.seed, device=args.device, accounts=args.accounts,
        episode_length=args.episode_length, n_steps=args.n_steps, batch_size=args.batch_size,
        n_epochs=args.n_epochs, learning_rate=parse_schedule("--learning-rate", args.learning_rate, "cosine"),
        ent_coef=parse_schedule("--ent-coef", args.ent_coef, "linear"), clip_range=args.clip_range,
        reward_weights=parse_reward_weights(args.reward_weights, TrainingConfig.reward_weights),
        eval_every=args.eval_every, eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
        env_workers=args.env_workers)
    if args.search < 0 or (args.search and args.resume):
        raise InvalidParameterError("--search takes a number of trials >= 1 and cannot be resumed; drop --resume")
    resumable = config.checkpoint_every > 0 and config.env_workers == 1 and args.executor == "local"
    if args.resume and not resumable:
        raise InvalidParameterError("--resume needs resume points, which one in-process environment writes "
                                    "(no --env-workers, --executor local, --checkpoint-every > 0)")
    shard_runner = training_shard_runner(args.executor)
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    data = load_dataset(args.data, symbols=symbols)
    split = parse_split(data, args.train, args.val, args.test)
    print(f"training {config.preset} symbol agent on {args.data} ({', '.join(data.symbols)}): "
          f"{_periods_text(split)}, {config.timesteps} steps, {config.env_workers} env worker(s) ({args.executor})")
    if config.checkpoint_every > 0 and not resumable:
        print("no resume points: they need one in-process environment (no --env-workers, --executor local)")
    with tempfile.TemporaryDirectory(prefix="workbench-train-") as log_dir:
        search = None
        if args.search:
            trial_steps = args.search_timesteps or max(config.timesteps // 4, 1)
            search = search_symbol_agent(split, config, args.search, trial_steps, log_dir=Path(log_dir) / "search",
                                         code_version=code_version(), progress=print)
            config = search.best_config
            print(f"search: best trial {search.best_trial['number']} of {search.n_trials} "
                  f"(validation score {search.best_trial['score']:.3f}): {search.best_trial['params']}")
        result = train_symbol_agent(split, config, log_dir=log_dir, code_version=code_version(),
                                    progress=not args.no_progress, shard_runner=shard_runner,
                                    checkpoints=checkpoints if resumable else None, resume=args.resume)
        card = dataclasses.replace(result.card, dataset={"name": args.data, "symbols": list(data.symbols)},
                                   search={} if search is None else search.to_dict())
        card = save_checkpoint(args.out, result.agent, card, result.normalizer)
        keep_logs(Path(log_dir), args.out)
    if split.test is not None:
        comparison = compare_held_out(split.data, split.test, str(args.out), config.costs(), config.seed,
                                      name=args.out.name)
        card = update_card(args.out, baselines=comparison)
    shutil.rmtree(checkpoints, ignore_errors=True)
    _print_card(card)
    print(f"{card.training_metrics['train/steps_per_second']:.0f} steps/s; checkpoint saved to {args.out}; "
          f"wall time {time.perf_counter() - started:.0f} s")
    return 0


def parse_reward_weights(text: str | None, base: RewardWeights) -> RewardWeights:
    """``"hold=0,pnl=0.5"`` applied to ``base``.

    Raises:
        InvalidParameterError: an item that is not NAME=NUMBER or an unknown name.
    """
    if not text:
        return base
    changes = {}
    names = {f.name for f in dataclasses.fields(RewardWeights)}
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in names:
            raise InvalidParameterError(f"--reward-weights {item!r}: {name!r} is not a reward weight; weights are "
                                        f"{', '.join(sorted(names))}")
        try:
            changes[name] = float(value)
        except ValueError:
            raise InvalidParameterError(f"--reward-weights {item!r}: {value!r} is not a number; write e.g. hold=0.05") \
                from None
    return dataclasses.replace(base, **changes)


def _schedule_text(schedule) -> str:
    return f"{schedule.start:g}" if schedule.kind == "constant" else f"{schedule.start:g}:{schedule.end:g}"


def _weights_text(weights: RewardWeights) -> str:
    return ",".join(f"{f.name}={getattr(weights, f.name):g}" for f in dataclasses.fields(weights))


def _periods_text(split: DataSplit) -> str:
    parts = [f"train {split.train[0].date()}..{split.train[1].date()}",
             f"validate {split.validation[0].date()}..{split.validation[1].date()}"]
    if split.test is not None:
        parts.append(f"test {split.test[0].date()}..{split.test[1].date()}")
    return ", ".join(parts)


def _print_card(card) -> None:
    """The validation and test figures side by side, the baselines on the test period, the warnings."""
    keys = dict.fromkeys(k.split("/", 1)[1] for k in [*card.validation_metrics, *card.test_metrics])
    rows = [[k, cell(k, card.validation_metrics.get(f"validation/{k}")), cell(k, card.test_metrics.get(f"test/{k}"))]
            for k in keys]
    print_table(["METRIC", "VALIDATION", "TEST"], rows)
    if card.baselines:
        print(f"test period {card.baselines['period'][0][:10]}..{card.baselines['period'][1][:10]}, every decider "
              f"warmed up for {card.baselines['warmup_bars']} bars:")
        columns = ["sharpe", "total_return", "max_drawdown", "time_in_market", "n_trades", "win_rate"]
        print_table(["DECIDER", *(c.upper() for c in columns)],
                    [[row["name"], *(cell(c, row.get(c)) for c in columns)] for row in card.baselines["rows"]])
    for warning in card.warnings:
        print(f"warning sign {warning['sign']} at {warning['timesteps']} steps ({warning['count']}x): "
              f"{warning['message']}")


def run_master(args: argparse.Namespace) -> int:
    started = time.perf_counter()
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
    split = parse_split(data, args.train, args.val, args.test)
    encoder_seen = source.train_period[1]
    if encoder_seen is not None and split.validation[0] <= _timestamp(encoder_seen, split.data.index):
        raise InvalidParameterError(
            f"the validation period ({split.validation[0].date()}) must start after the symbol agent's training "
            f"period ends ({encoder_seen[:10]}): its frozen encoder has seen those bars. Choose a later --val")
    print(f"training {config.preset} master agent over {symbol_agent.policy.name} on {dataset} "
          f"({', '.join(data.symbols)}): {_periods_text(split)}, {config.timesteps} steps")
    info = {"name": symbol_agent.policy.name, "weights_sha256": source.weights_sha256,
            "train_period": list(source.train_period), "validation_period": list(source.validation_period)}
    with tempfile.TemporaryDirectory(prefix="workbench-train-") as log_dir:
        result = train_master_agent(split, symbol_agent.network.encoder, symbol_agent.normalizer, info, config,
                                    log_dir=log_dir, code_version=code_version(), progress=not args.no_progress)
        card = dataclasses.replace(result.card, dataset={"name": dataset, "symbols": list(data.symbols)})
        card = save_checkpoint(args.out, result.network, card, result.normalizer)
        keep_logs(Path(log_dir), args.out)
    if split.test is not None:
        card = update_card(args.out, baselines=compare_held_out(split.data, split.test, str(args.out),
                                                                config.params(), config.seed, name=args.out.name))
    _print_card(card)
    print(f"{card.training_metrics['train/steps_per_second']:.0f} steps/s; checkpoint saved to {args.out}; "
          f"wall time {time.perf_counter() - started:.0f} s")
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
    device = resolve_device(args.device)  # cuda without CUDA: refused before any data is read
    if args.resume and args.run_dir is None:
        raise InvalidParameterError("--resume continues the run kept in --run-dir; pass --run-dir")
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    data = load_dataset(args.data, symbols=symbols)
    split = parse_split(data, args.train, args.val, args.test)
    train, validation = split.part(split.train), split.part(split.validation)
    test = split.part(split.test) if split.test is not None else None
    per_update = args.n_steps * args.accounts * train.n_symbols
    mappo = MappoArgs(seed=args.seed, total_timesteps=args.timesteps, n_steps=args.n_steps,
                      learning_rate=args.learning_rate, checkpoint_every=args.checkpoint_every,
                      eval_every=math.ceil(args.eval_every / per_update) if args.eval_every > 0 else 0,
                      device=args.device)
    config = TeamTrainingConfig(preset=args.preset, vote=args.vote, accounts=args.accounts,
                                episode_length=args.episode_length, reward_mode=args.reward_mode, mappo=mappo)
    print(f"training {config.preset} tactical team on {args.data} ({', '.join(data.symbols)}): "
          f"train {train.index[0]}..{train.index[-1]}, validate {validation.index[0]}..{validation.index[-1]}, "
          + (f"test {test.index[0]}..{test.index[-1]}, " if test is not None else "")
          + f"{mappo.n_updates(args.accounts * train.n_symbols)} updates of {per_update} decisions, "
          f"vote {config.vote}, on {device.type}")
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
    rows = [[f"{part}/{k}", cell(k, metrics.get(f"{part}/{k}"))] for part in ("validation", "test") for k in keys
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


def _timestamp(text: str, index: pd.DatetimeIndex) -> pd.Timestamp:
    """``text`` as a timestamp comparable with ``index`` (same time zone, or both naive)."""
    stamp = pd.Timestamp(text)
    if index.tz is None:
        return stamp.tz_localize(None) if stamp.tz is not None else stamp
    return stamp.tz_localize(index.tz) if stamp.tz is None else stamp.tz_convert(index.tz)


def parse_split(data, train: str | None, val: str | None, test: str | None) -> DataSplit:
    """The periods from the options (see :data:`PERIODS_EPILOG`).

    Raises:
        InvalidParameterError: a bad period, one with fewer than 2 bars, or periods out of order.
    """
    chosen = train is not None or val is not None
    if test is not None and test.strip().lower() == "none":
        test_period = False
    elif test is not None:
        test_period = parse_period("--test", test)
    else:
        test_period = not chosen
    return split_data(data, None if train is None else parse_period("--train", train),
                      None if val is None else parse_period("--val", val), test_period)


def keep_logs(log_dir: Path, out: Path) -> None:
    """Copy the training logs into the saved checkpoint folder: ``progress.csv`` (a resumed run's log
    follows the log written before the resume) and the TensorBoard event files (``tensorboard/``;
    view them with ``tensorboard --logdir OUT/tensorboard``)."""
    parts = [log_dir / "progress.before-resume.csv", log_dir / "progress.csv"]
    frames = [pd.read_csv(p) for p in parts if p.exists() and p.stat().st_size]
    if frames:
        pd.concat(frames, ignore_index=True).to_csv(out / "progress.csv", index=False)
    events = sorted(log_dir.glob("events.out.tfevents.*"))
    if events:
        (out / "tensorboard").mkdir(exist_ok=True)
        for event in events:
            shutil.copyfile(event, out / "tensorboard" / event.name)
