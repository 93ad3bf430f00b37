"""The one atomic writer: ordinary permissions under the umask, nothing half-written on failure."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine import atomic_files
from engine.atomic_files import (
    atomic_path,
    publish_folder,
    staging_folder,
    write_bytes_atomically,
    write_text_atomically,
)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_027")
def test_files_get_0666_less_the_umask(tmp_path: Path) -> None:
    text = write_text_atomically(tmp_path / "a.json", "{\"é\": 1}\n")
    data = write_bytes_atomically(tmp_path / "b.bin", b"\x00\x01")
    assert mode(text) == mode(data) == 0o640
    assert text.read_text(encoding="utf-8") == "{\"é\": 1}\n" and data.read_bytes() == b"\x00\x01"


@pytest.mark.usefixtures("umask_027")
def test_a_replaced_file_takes_the_rule_not_the_old_mode(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text("old")
    path.chmod(0o600)
    write_text_atomically(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]


@pytest.mark.usefixtures("umask_027")
def test_a_writer_that_wants_a_path_gets_the_same_rule(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "m.parquet") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".m.parquet.") and tmp.exists()
        tmp.write_bytes(b"PAR1")
    assert mode(tmp_path / "m.parquet") == 0o640 and not tmp.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("old")
    with pytest.raises(OSError, match="disk full"):
        with atomic_path(path) as tmp:
            tmp.write_text("half a rep")
            raise OSError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"] and path.read_text() == "old"


def test_a_failed_rename_leaves_no_temporary(tmp_path: Path, monkeypatch) -> None:
    def failing(*_):
        raise PermissionError("read-only target")

    monkeypatch.setattr(atomic_files.os, "replace", failing)
    with pytest.raises(PermissionError):
        write_text_atomically(tmp_path / "config.json", "{}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("umask_027")
def test_staging_folders_are_hidden_and_ordinary(tmp_path: Path) -> None:
    folder = staging_folder(tmp_path / "ckpt")
    assert folder.parent == tmp_path and folder.name.startswith(".ckpt.") and folder.is_dir()
    assert mode(folder) == 0o750 and list(folder.iterdir()) == []


def test_publishing_a_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "old.json").write_text("old")
    staging = staging_folder(target)
    (staging / "new.json").write_text("new")
    publish_folder(staging, target)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"] and [p.name for p in target.iterdir()] == ["new.json"]


def test_a_failed_publish_puts_the_old_folder_back(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "old.json").write_text("old")
    staging = staging_folder(target)
    real_replace = os.replace

    def refuse_the_new_folder(src, dst):
        if Path(src) == staging:
            raise OSError("interrupted")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_files.os, "replace", refuse_the_new_folder)
    with pytest.raises(OSError, match="interrupted"):
        publish_folder(staging, target)
    assert (target / "old.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ckpt", staging.name])  # the owner removes its staging
