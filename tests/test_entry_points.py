"""distributions.entry_points finds what importlib.metadata.entry_points finds, without
importing it.

Every command loads the plugins, so the scan of the installed distributions must be cheap;
it must also be exactly as faithful as ``importlib.metadata``: the same entry points, of the
same distributions, the first of a name on ``sys.path`` winning.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from phaser_analytics.plugins import distributions


def _described(points: list) -> list[tuple[str, str, str, str | None, str | None]]:
    return sorted(
        (ep.name, ep.value, ep.group, ep.dist.name if ep.dist else None,
         ep.dist.version if ep.dist else None)
        for ep in points
    )  # fmt: skip


def _importlib(group: str) -> list:
    return list(metadata.entry_points(group=group))


def _fresh(group: str, path: list[str] | None = None, setup: str = "") -> tuple[list, bool, list]:
    """In a fresh interpreter, with ``sys.path`` replaced by ``path`` (if given; the
    standard library's directories stay after it) and ``setup`` run: what
    ``distributions.entry_points(group)`` finds, whether it found it without importing
    ``importlib.metadata`` (by reading the distributions directly), and what
    ``importlib.metadata`` finds."""
    code = f"""
import json, sys
from phaser_analytics.plugins import distributions
def described(points):
    return sorted([ep.name, ep.value, ep.group, ep.dist.name if ep.dist else None,
                   ep.dist.version if ep.dist else None] for ep in points)
{setup}
# The standard library stays importable (it holds no distribution).
standard = [p for p in sys.path if p and "-packages" not in p]
if {path!r} is not None:
    sys.path[:] = [*{path!r}, *standard]
found = described(distributions.entry_points({group!r}))
direct = "importlib.metadata" not in sys.modules
from importlib import metadata
print(json.dumps([found, direct, described(metadata.entry_points(group={group!r}))]))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    found, direct, expected = json.loads(result.stdout)
    return found, direct, expected


@pytest.mark.parametrize("group", ["phaser_analytics", "console_scripts", "pytest11", "nothing"])
def test_the_scan_agrees_with_importlib_metadata_here(group: str) -> None:
    found, direct, expected = _fresh(group)
    assert direct
    assert found == expected


def test_the_built_in_plugins_are_found_with_their_distribution() -> None:
    found = {ep.name: ep for ep in distributions.entry_points("phaser_analytics")}
    assert {"markdown_report", "table", "json", "csv", "shields_io"} <= set(found)
    table = found["table"]
    assert table.dist is not None and table.dist.name == "phaser-analytics"
    assert table.load().__name__ == "phaser_analytics.default_plugins.table"


def _dist(root: Path, dirname: str, entry_points: str | None, metadata_text: str | None) -> None:
    info = root / dirname
    info.mkdir(parents=True)
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    if metadata_text is not None:
        (info / "METADATA").write_text(metadata_text, encoding="utf-8")


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Two directories on sys.path holding made-up distributions."""
    first, second = tmp_path / "first", tmp_path / "second"
    group = "[phaser_analytics]\n"
    _dist(
        first,
        "alpha_plugin-1.0.dist-info",
        "# a comment\n[console_scripts]\nalpha = alpha:main\n\n"
        f"{group}alpha = alpha_plugin.hooks:Plugin [extra]\n  spaced  =  alpha_plugin  \n",
        "Metadata-Version: 2.1\nName: alpha-plugin\nVersion: 1.0\n\nName: not-this\n",
    )
    # The same distribution again, later on sys.path: importlib.metadata ignores it.
    _dist(second, "Alpha.Plugin-2.0.dist-info", f"{group}shadowed = nope\n", "Name: x\n")
    _dist(second, "beta-0.3.egg-info", f"{group}beta = beta\n", None)
    (second / "beta-0.3.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 1.0\nName: beta\nVersion: 0.3\n", encoding="utf-8"
    )
    _dist(second, "gamma-1.dist-info", f"{group}gamma = gamma:x.y\n", None)  # no METADATA
    _dist(second, "delta-1.dist-info", None, "Name: delta\nVersion: 1\n")  # no entry points
    (second / "notes.txt").write_text("not a distribution", encoding="utf-8")
    paths = [first, tmp_path / "missing", second]
    monkeypatch.setattr(sys, "path", [str(p) for p in paths])
    return paths


def test_the_scan_agrees_with_importlib_metadata_on_made_up_distributions(
    fake_path: list[Path],
) -> None:
    path = [str(p) for p in fake_path]
    for group in ("phaser_analytics", "console_scripts"):
        found, direct, expected = _fresh(group, path)
        assert direct
        assert found == expected
    found, _, _ = _fresh("phaser_analytics", path)
    assert sorted(name for name, *_ in found) == ["alpha", "beta", "gamma", "spaced"]


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(
    fake_path: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zeta-1.dist-info/entry_points.txt", "[phaser_analytics]\nzeta = zeta\n")
        zipped.writestr("zeta-1.dist-info/METADATA", "Name: zeta\nVersion: 1\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    scanned, direct, expected = _fresh("phaser_analytics", sys.path)
    assert not direct  # importlib.metadata was asked
    assert scanned == expected and "zeta" in [name for name, *_ in scanned]
    found = distributions.entry_points("phaser_analytics")
    assert "zeta" in [ep.name for ep in found]
    assert _described(found) == _described(_importlib("phaser_analytics"))


def test_another_distribution_finder_is_left_to_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Finder:
        @staticmethod
        def find_spec(*args: object) -> None:
            return None

        @staticmethod
        def find_distributions(*args: object) -> list:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder])
    finder = (
        "class Finder:\n"
        "    find_spec = staticmethod(lambda *args: None)\n"
        "    find_distributions = staticmethod(lambda *args: [])\n"
        "sys.meta_path.append(Finder)\n"
    )
    found, direct, expected = _fresh("phaser_analytics", setup=finder)
    assert not direct  # importlib.metadata was asked
    assert found == expected
    assert _described(distributions.entry_points("phaser_analytics")) == _described(
        _importlib("phaser_analytics")
    )


def test_loading_an_entry_point_is_importlib_metadatas(fake_path: list[Path]) -> None:
    point = distributions.EntryPoint("x", "os.path:join", "g")
    assert point.load() is metadata.EntryPoint("x", "os.path:join", "g").load()
    assert (
        distributions.EntryPoint("x", "os.path", "g").load()
        is metadata.EntryPoint("x", "os.path", "g").load()
    )
    spaced = "os.path : join [extra]"
    assert distributions.EntryPoint("x", spaced, "g").load() is (
        metadata.EntryPoint("x", spaced, "g").load()
    )
    with pytest.raises(ValueError, match="invalid entry point"):
        distributions.EntryPoint("x", "not a module!", "g").load()


@pytest.mark.parametrize("broken", ["entry_points.txt", "METADATA"])
def test_a_distribution_with_unreadable_metadata_is_skipped_with_one_warning(
    fake_path: list[Path], broken: str
) -> None:
    """Not UTF-8 (or not a file): that distribution's plugins are skipped, one warning
    names it, and every other distribution's are found as before."""
    _dist(fake_path[0], "omega-1.dist-info", "[phaser_analytics]\nomega = omega\n", "Name: omega\n")
    (fake_path[0] / "omega-1.dist-info" / broken).write_bytes(b"[phaser_analytics]\n\xff\xfe\n")
    warnings: list[str] = []
    found = distributions.entry_points("phaser_analytics", warnings.append)
    assert sorted(ep.name for ep in found) == ["alpha", "beta", "gamma", "spaced"]
    assert len(warnings) == 1
    assert "omega-1.dist-info" in warnings[0] and "skipped" in warnings[0]
    assert "\n" not in warnings[0]
