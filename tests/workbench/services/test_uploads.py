"""Browser uploads: data and policy checkpoints checked like the CLI's; names never become paths."""
from __future__ import annotations

import io
import zipfile

import pytest

from engine.errors import CheckpointError, DataValidationError, InvalidParameterError
from workbench.policies import load_policy, shipped_policies
from workbench.services import uploads
from workbench.services.datasets import dataset_store, load_dataset

CSV = ("date,open,high,low,close,volume\n"
       "2024-01-02,10,11,9,10.5,1000\n2024-01-03,10.5,11.5,10,11,1200\n2024-01-04,11,12,10.5,11.5,900\n")


def test_data_upload_is_validated_and_stored() -> None:
    result = uploads.import_data_upload("prices.csv", CSV.encode(), "my-prices")
    assert result["symbols"] == ["PRICES"] and result["bars"] == 3  # symbol from the uploaded name's stem
    data = load_dataset("my-prices")
    assert data.symbols == ("PRICES",) and float(data.close[-1, 0]) == 11.5
    assert uploads.import_data_upload("x.csv", CSV.encode(), "other", symbol="ACME")["symbols"] == ["ACME"]


def test_data_upload_errors_name_the_upload_not_a_temporary_path() -> None:
    broken = CSV.replace("2024-01-03,10.5", "2024-01-03,oops")
    with pytest.raises(DataValidationError) as caught:
        uploads.import_data_upload("../../secret/prices.csv", broken.encode(), "broken")
    message = str(caught.value)
    assert message.startswith("prices.csv") and "row 2" in message and "workbench-upload" not in message
    assert not dataset_store().exists("broken")


@pytest.mark.parametrize("filename, content, name, match", [
    ("prices.txt", CSV.encode(), "ok", "upload a .csv"),
    ("prices.csv", b"", "ok", "empty"),
    ("prices.csv", CSV.encode(), "../escape", "dataset name"),
    ("prices.csv", CSV.encode(), "ok", "over the"),
])
def test_data_upload_refuses_bad_input(monkeypatch, filename, content, name, match) -> None:
    if match == "over the":
        monkeypatch.setattr(uploads, "MAX_DATA_BYTES", 10)
    with pytest.raises(InvalidParameterError, match=match):
        uploads.import_data_upload(filename, content, name)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def checkpoint_files(folder_name: str = "agent") -> dict[str, bytes]:
    folder = shipped_policies()["symbol-agent-compact-stocks"]
    return {f"{folder_name}/{name}": (folder / name).read_bytes() for name in uploads.POLICY_FILES}


def test_policy_upload_is_verified_and_installed() -> None:
    target = uploads.install_policy_upload("agent.zip", zipped(checkpoint_files()), "my-agent")
    assert target == uploads.policies_dir() / "my-agent"
    assert uploads.uploaded_policies() == {"my-agent": target}
    assert load_policy(str(target)).model_sha
    with pytest.raises(InvalidParameterError, match="already installed"):
        uploads.install_policy_upload("agent.zip", zipped(checkpoint_files()), "my-agent")


@pytest.mark.parametrize("change, match", [
    (lambda files: {**files, "../weights.safetensors": b"x"}, "not a checkpoint file"),
    (lambda files: {**files, "agent/run.sh": b"rm -rf /"}, "not a checkpoint file"),
    (lambda files: {k: v for k, v in files.items() if not k.endswith("model_card.json")}, "lacks model_card.json"),
])
def test_policy_upload_refuses_unexpected_archives(change, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        uploads.install_policy_upload("agent.zip", zipped(change(checkpoint_files())), "bad")
    assert uploads.uploaded_policies() == {}


def test_policy_upload_with_tampered_weights_leaves_nothing() -> None:
    files = checkpoint_files()
    weights = next(k for k in files if k.endswith(".safetensors"))
    files[weights] = files[weights][:-8] + b"\x00" * 8
    with pytest.raises(CheckpointError):
        uploads.install_policy_upload("agent.zip", zipped(files), "tampered")
    assert uploads.uploaded_policies() == {}
    assert not any(uploads.policies_dir().iterdir())


def test_policy_upload_refuses_non_zip() -> None:
    with pytest.raises(InvalidParameterError, match="not a readable .zip"):
        uploads.install_policy_upload("agent.zip", b"not a zip", "x")
    with pytest.raises(InvalidParameterError, match="upload a .zip"):
        uploads.install_policy_upload("agent.tar", b"x", "x")


@pytest.mark.parametrize("name", ["-rf", "_x", "ok\n"])
def test_issue16_upload_and_cli_share_one_dataset_name_rule(tmp_path, capsys, name) -> None:
    from workbench.cli import main

    with pytest.raises(InvalidParameterError, match="starting with a letter or digit"):
        uploads.import_data_upload("prices.csv", CSV.encode(), name)
    path = tmp_path / "prices.csv"
    path.write_text(CSV)
    assert main(["data", "import", str(path), f"--name={name}"]) == 2
    assert "starting with a letter or digit" in capsys.readouterr().err
    assert dataset_store().list() == []


def test_issue16_an_upload_is_bounded_once_unpacked(monkeypatch) -> None:
    import gzip

    assert uploads.upload_limits().max_bytes <= uploads.MAX_DATA_UNPACKED_BYTES
    # A 2 MB .csv.gz that unpacked to 2 GB exhausted memory; here 30 KB unpack to 30 MB over a 1 MB bound.
    monkeypatch.setattr(uploads, "MAX_DATA_UNPACKED_BYTES", 2**20)
    bomb = gzip.compress(CSV.encode() + b"\n" * 30_000_000, 9)
    assert len(bomb) < 2**16
    with pytest.raises(DataValidationError, match="more than 1 MiB once decompressed") as caught:
        uploads.import_data_upload("bomb.csv.gz", bomb, "bomb")
    assert str(caught.value).startswith("bomb.csv.gz: file-too-large")
    assert not dataset_store().exists("bomb")


def test_issue16_upload_bounds_never_exceed_the_environments(monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_MAX_ROWS", "2")
    with pytest.raises(DataValidationError, match="more than 2 data rows"):
        uploads.import_data_upload("prices.csv", CSV.encode(), "small")
    monkeypatch.setenv("WORKBENCH_DATA_MAX_ROWS", str(10 * uploads.MAX_DATA_ROWS))
    assert uploads.upload_limits().max_rows == uploads.MAX_DATA_ROWS


def test_issue16_an_upload_can_use_its_adjusted_close() -> None:
    text = ("Date,Open,High,Low,Close,Adj Close,Volume\n"
            "2024-01-02,10,11,9,10,5,100\n2024-01-03,10,12,10,11,5.5,100\n")
    uploads.import_data_upload("acme.csv", text.encode(), "acme", adjusted=True)
    assert load_dataset("acme").close[:, 0].tolist() == [5.0, 5.5]
