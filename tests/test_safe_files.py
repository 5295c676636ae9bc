"""stores.files.make_temp: what ``tempfile.mkstemp`` promised the atomic writes (a name no
file has, created exclusively, never through a link, readable by its owner only), kept
without importing :mod:`tempfile` (docs/performance.md, "Start-up")."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from phaser_analytics.stores import files
from phaser_analytics.stores.files import atomic_write_text, is_temp_name, make_temp


def test_a_temporary_file_is_new_empty_private_and_beside_its_target(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    fd, name = make_temp(target)
    os.close(fd)
    made = Path(name)
    assert made.parent == tmp_path and made.name.startswith(".index.json.")
    assert is_temp_name(made.name)
    assert made.stat().st_size == 0
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert not target.exists()


def test_each_temporary_file_has_a_name_of_its_own(tmp_path: Path) -> None:
    names = set()
    for _ in range(200):
        fd, name = make_temp(tmp_path / "x")
        os.close(fd)
        names.add(name)
    assert len(names) == 200


def test_a_name_taken_is_drawn_again_never_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = tmp_path / ".x.000000000000.tmp"
    taken.write_text("someone else's", encoding="utf-8")
    draws = iter([bytes(6), bytes(6), b"\x01" * 6])
    monkeypatch.setattr(files.os, "urandom", lambda n: next(draws))
    fd, name = make_temp(tmp_path / "x")
    os.close(fd)
    assert name == str(tmp_path / ".x.010101010101.tmp")
    assert taken.read_text(encoding="utf-8") == "someone else's"


def test_no_free_name_is_an_error_not_a_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".x.000000000000.tmp").touch()
    monkeypatch.setattr(files.os, "urandom", lambda n: bytes(n))
    with pytest.raises(FileExistsError):
        make_temp(tmp_path / "x")


def test_a_link_planted_at_the_drawn_name_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.txt"
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / ".x.000000000000.tmp").symlink_to(outside)
    draws = iter([bytes(6), b"\x02" * 6])
    monkeypatch.setattr(files.os, "urandom", lambda n: next(draws))
    fd, name = make_temp(tmp_path / "store" / "x")
    os.close(fd)
    assert name.endswith(".x.020202020202.tmp")
    assert not outside.exists()


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "projects.json"
    target.write_text("old", encoding="utf-8")
    atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert os.listdir(tmp_path) == ["projects.json"]


def test_writing_a_file_imports_no_tempfile(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from phaser_analytics.stores.files import atomic_write_text\n"
        f"atomic_write_text(Path({str(tmp_path / 'f.json')!r}), 'x')\n"
        "print('tempfile' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
    assert (tmp_path / "f.json").read_text(encoding="utf-8") == "x"
