"""`workbench compare` and `workbench walkforward`: JSON with run_id, storing, export, spec files, errors."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.store import RunStore

DATA = ["--data", "stocks", "--symbols", "AAPL,MSFT", "--start", "2010-01-01", "--end", "2011-06-30"]
COMPARE = ["compare", "--strategy", "sma_cross", *DATA, "--n-boot", "100", "--pbo-blocks", "8"]
WALKFORWARD = ["walkforward", "--strategy", "sma_cross", *DATA, "--train", "120", "--test", "60"]


def run_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_compare_json_is_stored_under_its_run_id(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, *COMPARE, "--variants", "fast=5,10", "--tag", "cli")
    assert len(out["run_id"]) == 16 and out["kind"] == "compare"
    assert out["n_trials"] == 3 and out["pbo"] is not None  # the candidate and its two variants
    assert set(out["reality_check"]["superior"]) >= {"lower", "consistent", "upper", "closest", "pairwise"}
    assert set(out["model_confidence_set"]) >= {"size", "included", "excluded", "pvalues"}
    assert {"tie_share", "warnings"} <= set(out["pbo_detail"]) and "only 3 variants" in out["pbo_detail"]["warnings"][0]
    assert {"n_trials", "trials_variance", "n_effective", "mean_correlation", "value_effective",
            "counted"} <= set(out["deflated_sharpe_detail"])
    with RunStore.open() as store:
        stored = store.get_run(out["run_id"])
    assert stored.summary["deflated_sharpe"] == out["deflated_sharpe"] and "cli" in stored.info.tags
    assert stored.summary["reality_check"] == out["reality_check"]
    counted = run_json(capsys, *COMPARE, "--variants", "fast=5,10", "--dsr-baselines", "--mcs-size", "0.1")
    assert counted["n_trials"] == 7 and counted["model_confidence_set"]["size"] == 0.1


def test_compare_prints_a_table_exports_and_says_where_it_is_stored(capsys: pytest.CaptureFixture,
                                                                    tmp_path: Path) -> None:
    assert main([*COMPARE, "--fees", "0.001", "--export", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "buy_and_hold" in text and "deflated Sharpe ratio" in text
    assert "reality check over 4 alternatives" in text and "does the candidate beat every alternative? p = " in text
    assert "model confidence set at 0.05: " in text and "at effective N = " in text
    assert ", fees 10 bp, slippage 0 bp\n" in text  # costs in basis points, returns as percentages
    assert re.search(r"^benchmark \(equal-weight buy-and-hold\): return -?[\d.]+%, annualized -?[\d.]+%$", text, re.M)
    run_id = text.strip().splitlines()[-1].removeprefix("stored run ")
    assert len(run_id) == 16
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["comparison.csv", "equity.csv", "summary.json"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["run_id"] == run_id


def test_walkforward_json_and_durations(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, *WALKFORWARD, "--retrain", "--grid", "fast=5,10")
    assert out["kind"] == "walkforward" and len(out["run_id"]) == 16
    assert len(out["folds"]) == 4 and all(f["params"]["fast"] in ("5", "10") for f in out["folds"])
    assert {"sharpe"} <= set(out["oos"]) and {"positive_fraction", "sharpe_std"} <= set(out["stability"])
    weeks = run_json(capsys, "walkforward", "--strategy", "sma_cross", *DATA, "--train", "6M", "--test", "3M")
    assert (weeks["layout"]["train_bars"], weeks["layout"]["test_bars"]) == (126, 63)


def test_a_spec_file_with_command_line_overrides(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("kind: walkforward\nstrategy: momentum\ndata: stocks\nsymbols: [AAPL, MSFT]\n"
                    "start: 2010-01-01\nend: 2011-06-30\noptions:\n  train: 120\n  test: 60\n  scheme: expanding\n")
    out = run_json(capsys, "walkforward", "--spec", str(path), "--test", "90")
    assert out["decider"] == "momentum" and out["layout"]["test_bars"] == 90
    assert out["layout"]["scheme"] == "expanding" and out["folds"][1]["train_start"] == out["folds"][0]["train_start"]


@pytest.mark.parametrize("args, message", [
    ([*WALKFORWARD, "--purge", "-1"], "--purge"),
    ([*WALKFORWARD, "--train", "2X"], "not a bar count or a duration"),
    ([*WALKFORWARD, "--train", "400"], "do not fit"),
    ([*COMPARE, "--fees", "0,0.001"], "one cost point"),
    ([*COMPARE, "--variants", "fsat=5"], "Did you mean 'fast'"),
    ([*COMPARE, "--variants", "fast"], "KEY=VALUE"),
    (["compare", "--strategy", "sma_cross"], "give --data"),
])
def test_user_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
