"""The tactical team as a policy family: loading and verification, the vote rules, backtest, stress,
ONNX parity, paper parity and the explanation of one decision."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from engine.errors import CheckpointError, InvalidParameterError, ObservationError
from engine.scenarios import from_market
from engine.tactical_observation import TacticalObserver
from engine.votes import VOTE_RULES, team_decision
from models.checkpoint import CARD_FILE, WEIGHTS_FILE, ModelCard, save_checkpoint, update_card
from models.mappo import MappoArgs
from models.spec import tactical_action_spec, tactical_observation_spec
from models.tactical_team.network import TacticalTeam
from models.tactical_team.training import TeamTrainingConfig, card_config, fit_team_normalizer
from strategies import families
from strategies.families.tactical_team import TACTICAL_TEAM
from workbench.paper import StartOptions, ledger_arrays, start_paper
from workbench.policies.explain import explain_bar
from workbench.policies.export import export_policy
from workbench.runs.backtest import run_backtest
from workbench.runs.registry import run_kind
from workbench.runs.spec import RunSpec
from workbench.services.datasets import load_dataset

DATA = "synthetic-5min"
TRAIN_END = "2024-01-31"
# Two symbols over the last days of the dataset: the windows are warm after 112 bars.
SPEC = dict(data=DATA, symbols=("SYN000", "SYN001"), start="2024-03-21", end="2024-03-28")


def make_team(folder: Path, vote: str = "plurality", seed: int = 0) -> Path:
    """A compact team with seeded weights, its normalizer fitted on January, saved as a checkpoint."""
    torch.manual_seed(seed)
    team = TacticalTeam()
    with torch.no_grad():  # larger output weights than the 0.01 initialization, so the agents disagree
        for actor in team.actors.values():
            actor.output.weight.mul_(300.0)
    train = load_dataset(DATA, end=TRAIN_END)
    config = TeamTrainingConfig(vote=vote, mappo=MappoArgs(seed=seed))
    card = ModelCard(architecture="tactical_team", config=card_config(config, team),
                     train_period=(train.index[0].isoformat(), train.index[-1].isoformat()),
                     validation_period=("2024-02-01T00:00:00+00:00", "2024-02-29T00:00:00+00:00"),
                     data_fingerprint=train.fingerprint(), seed=seed, code_version="test",
                     observation_spec=tactical_observation_spec(), action_spec=tactical_action_spec(),
                     dataset={"name": DATA, "symbols": list(train.symbols)})
    save_checkpoint(folder, team, card, fit_team_normalizer(train))
    return folder


@pytest.fixture(scope="module")
def team_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_team(tmp_path_factory.mktemp("team") / "tactical-team")


@pytest.fixture(scope="module")
def torch_backtest(team_folder: Path):
    return run_backtest(RunSpec(kind="backtest", policy=str(team_folder), runtime="torch", fees=(0.0, 0.001), **SPEC))


def test_the_registry_loads_a_team_checkpoint(team_folder: Path) -> None:
    decider = families.load_trained(team_folder, runtime="torch")
    assert decider.family is TACTICAL_TEAM and decider.runtime == "torch"
    assert decider.policy.vote == "plurality" and decider.policy.scope == "portfolio"
    assert TACTICAL_TEAM.actions(decider).names == ("short", "hold", "long")
    with pytest.raises(CheckpointError, match="has no model.onnx"):
        families.load_trained(team_folder, runtime="onnx")


def test_a_backtest_stores_the_agents_votes_probabilities_and_attention(torch_backtest) -> None:
    summary = torch_backtest.summary()
    assert summary["decider"]["family"] == "tactical_team"
    assert all(s["n_trades"] > 0 for s in summary["scenarios"])
    tables = torch_backtest.to_record().tables
    assert {"team_votes", "team_probabilities", "team_attention", "values", "rewards"} <= set(tables)
    votes = tables["team_votes"]
    n_decisions = len(torch_backtest.rollout.index) - 1
    assert len(votes) == n_decisions * 2 * 2  # every scenario and symbol
    joint = team_decision("plurality", votes[["fvg", "momentum", "entry"]].to_numpy().astype(int))
    np.testing.assert_array_equal(joint, votes["team"].to_numpy())
    agreeing = (votes[["fvg", "momentum", "entry"]].to_numpy() == votes[["team"]].to_numpy()).mean(axis=1)
    np.testing.assert_allclose(votes["agreement"], agreeing, atol=1e-6)
    assert 0.3 < votes["agreement"].mean() < 1.0  # the agents do disagree
    attention = tables["team_attention"]
    assert len(attention) == n_decisions * 2 and set(attention["scenario"]) == {0}
    fvg = attention[[c for c in attention.columns if c.startswith("fvg_")]].to_numpy()
    np.testing.assert_allclose(fvg.sum(axis=1), 1.0, atol=1e-5)
    assert fvg[:, :5].sum(axis=1).min() > 0.99  # the untrained FVG agent looks at the FVG columns
    probabilities = tables["team_probabilities"]
    np.testing.assert_allclose(probabilities[["fvg_short", "fvg_hold", "fvg_long"]].sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("rule", VOTE_RULES)
def test_each_vote_rule_joins_the_same_votes_its_own_way(team_folder: Path, tmp_path: Path, rule: str) -> None:
    folder = tmp_path / rule
    shutil.copytree(team_folder, folder)
    update_card(folder, config={**json.loads((folder / CARD_FILE).read_text())["config"], "vote": rule})
    decider = families.load_trained(folder, runtime="torch")
    batch = from_market(load_dataset(DATA, symbols=["SYN000", "SYN001"], start="2024-03-25"))
    window = TacticalObserver(batch, decider.normalizer).observe(150, _context(batch))
    output = decider.policy.act(window)
    votes = output.extras["agent_votes"].astype(int)
    expected = team_decision(rule, votes, output.extras["agent_probabilities"])
    np.testing.assert_array_equal(output.actions, expected)
    assert decider.policy.vote == rule


def _context(batch):
    """A bar context with a fresh account (the team reads the market only)."""
    from engine.actions import BarContext
    from engine.rollout import kernel_params
    from engine.state import initial_state

    params = kernel_params(batch)
    state = initial_state(params, batch.n_symbols)
    return BarContext(0, state, batch.close[:, 0, :], params, np.full((1, batch.n_symbols), np.nan))


def test_an_unknown_vote_rule_in_the_card_is_refused(team_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bad-vote"
    shutil.copytree(team_folder, folder)
    update_card(folder, config={**json.loads((folder / CARD_FILE).read_text())["config"], "vote": "majority"})
    with pytest.raises(InvalidParameterError, match="vote rule 'majority'"):
        families.load_trained(folder, runtime="torch")


def test_invalid_windows_are_refused_with_a_typed_error(team_folder: Path) -> None:
    decider = families.load_trained(team_folder, runtime="torch")
    window = np.zeros((2, 60, 7), np.float32)
    window[1, 59, 5] = np.nan
    with pytest.raises(ObservationError, match="non-finite value"):
        decider.policy.act({"window": window})
    with pytest.raises(InvalidParameterError, match="reads the tactical window"):
        decider.policy.act({"technical": window})


def test_tampered_checkpoints_are_refused(team_folder: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(team_folder, weights)
    data = bytearray((weights / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0x01
    (weights / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="differs from the model card"):
        families.load_trained(weights)
    spec = tmp_path / "spec"
    shutil.copytree(team_folder, spec)
    card = json.loads((spec / CARD_FILE).read_text())
    card["observation_spec"]["window"]["shape"] = [48, 7]
    (spec / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="another observation or action spec"):
        families.load_trained(spec)
    pickled = tmp_path / "pickled"
    shutil.copytree(team_folder, pickled)
    torch.save({"x": torch.zeros(1)}, pickled / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="not safetensors"):
        families.load_trained(pickled)


def test_the_onnx_export_decides_like_torch(team_folder: Path, tmp_path: Path, torch_backtest) -> None:
    folder = tmp_path / "exported"
    shutil.copytree(team_folder, folder)
    export = export_policy(str(folder), folder / "model.onnx", data=f"{DATA}", symbols=["SYN000", "SYN001"],
                           min_rows=2000, latency_runs=5)
    report = export.report
    assert report["n_rows"] >= 2000 and report["action_agreement"] == 1.0
    assert set(report["agents"]) == {"fvg", "momentum", "entry"} and report["team_action_agreement"] == 1.0
    assert all(a["max_abs_logit_diff"] <= 1e-4 and a["action_agreement"] >= 0.999 for a in report["agents"].values())
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["export"]["sha256"] == report["sha256"]
    onnx_run = run_backtest(RunSpec(kind="backtest", policy=str(folder), fees=(0.0, 0.001), **SPEC))
    assert onnx_run.decider.runtime == "onnx"  # auto takes the verified export
    np.testing.assert_array_equal(onnx_run.rollout.actions, torch_backtest.rollout.actions)
    np.testing.assert_array_equal(onnx_run.rollout.equity, torch_backtest.rollout.equity)
    (folder / "model.onnx").write_bytes((folder / "model.onnx").read_bytes() + b"\0")
    with pytest.raises(CheckpointError, match="changed after its parity check"):
        families.load_trained(folder)


def test_a_stress_set_runs_the_team(team_folder: Path) -> None:
    spec = RunSpec(kind="stress", policy=str(team_folder), runtime="torch", seed=3,
                   options=(("shocks", ("gap:-0.05",)), ("n_bootstrap", 1), ("n_garch", 0)), **SPEC)
    record = run_kind("stress").run(spec).to_record()
    assert {"base", "shock", "bootstrap"} <= {row["family"] for row in record.summary["scenarios"]}


def test_paper_trading_the_team_keeps_the_backtests_ledger(team_folder: Path, tmp_path: Path) -> None:
    spec = RunSpec(kind="backtest", policy=str(team_folder), runtime="torch", fees=(0.001,),
                   **{**SPEC, "symbols": ("SYN000", "SYN001")})
    rollout = run_backtest(spec).rollout
    result = start_paper(StartOptions(state=tmp_path / "paper", feed=f"replay:{DATA}:SYN000,SYN001",
                                      policy=str(team_folder), runtime="torch", start=SPEC["start"], end=SPEC["end"],
                                      fees=0.001))
    assert result.status == "finished" and result.last_bar == len(rollout.index) - 1
    records, equity = ledger_arrays(tmp_path / "paper")
    assert len(records) == len(rollout.records) > 4
    for name in records.dtype.names:
        assert np.array_equal(records[name], rollout.records[name], equal_nan=True), name
    np.testing.assert_array_equal(equity, rollout.equity[:, 0])


def test_a_decision_is_explained_agent_by_agent(team_folder: Path, torch_backtest) -> None:
    record = torch_backtest.to_record()
    explained = explain_bar(record.spec, 200)
    explanation = explained.explanation
    assert explanation.heads == ("fvg", "momentum", "entry") and explanation.tokens[5] == "momentum"
    assert explanation.attention.shape == (1, 2, 3, 1, 7)
    stored = record.tables["team_attention"]
    row = stored[(stored["bar"] == 200) & (stored["symbol"] == "SYN001")]
    np.testing.assert_allclose(explanation.attention[0, 1, 0, 0], row[[f"fvg_{c}" for c in explanation.tokens]]
                               .to_numpy()[0], atol=1e-6)
    votes = record.tables["team_votes"]
    stored_team = votes[(votes["bar"] == 200) & (votes["scenario"] == 0)]["team"].to_numpy()
    assert explanation.actions == tuple(("short", "hold", "long")[int(a)] for a in stored_team)
    members = explanation.members
    assert list(members.columns) == ["symbol", "agent", "vote", "short", "hold", "long"] and len(members) == 6
    attribution = explanation.attribution
    assert set(attribution["block"]) == {"fvg", "momentum", "entry"}
    np.testing.assert_allclose(attribution.groupby("symbol")["score"].sum(), 1.0)


def test_a_walk_forward_and_a_sweep_run_the_team(team_folder: Path) -> None:
    base = {**SPEC, "symbols": ("SYN000",)}
    sweep = run_kind("sweep").run(RunSpec(kind="sweep", policy=str(team_folder), runtime="torch", fees=(0.0, 0.001),
                                          options={"grid": {"stop_loss": [0.0, 0.002]}}, **base)).summary()
    assert len(sweep["scenarios"]) == 4
    walk = run_kind("walkforward").run(RunSpec(kind="walkforward", policy=str(team_folder), runtime="torch",
                                               options={"train": 200, "test": 100}, **base)).summary()
    assert len(walk["folds"]) >= 2 and walk["oos"]["bars"] >= 200


def test_the_card_records_the_decision_rule(team_folder: Path) -> None:
    card = json.loads((team_folder / CARD_FILE).read_text())
    assert card["architecture"] == "tactical_team" and card["config"]["vote"] == "plurality"
    assert card["config"]["network"]["agents"] == ["fvg", "momentum", "entry"]
    assert card["config"]["mappo"]["gae_lambda"] == 0.9047
    assert card["parameter_counts"]["total"] == card["config"]["parameters"]["total"] == 183_930
    assert pd.Timestamp(card["train_period"][1]) < pd.Timestamp(card["validation_period"][0])


def test_a_team_in_bf16_backtests_with_a_parity_report_per_agent_vote(team_folder: Path, torch_backtest) -> None:
    """Issue 19 for the team: a placement off the reference is recorded in the run with the share of
    sampled rows where every agent votes as on CPU fp32; the reference run records no parity."""
    from strategies.family import Placement

    result = run_backtest(RunSpec(kind="backtest", policy=str(team_folder), runtime="torch", fees=(0.0, 0.001),
                                  precision="bf16", **SPEC))
    assert result.decider.placement == Placement("cpu", "bf16") and result.run_id != torch_backtest.run_id
    report = result.decider.parity_report()
    assert report["output"] == "logits" and report["rows"] > 0 and 0 < report["max_abs_diff"] < 0.5
    assert report["action_agreement"] >= 0.9 and report["passed"] == (report["action_agreement"] >= 0.999)
    assert torch_backtest.decider.placement_summary() == {"device": "cpu", "precision": "fp32", "parity": None}
    with pytest.raises(InvalidParameterError, match="runs on CUDA only"):
        families.load_trained(team_folder, runtime="torch", placement=Placement("cpu", "fp16"))
