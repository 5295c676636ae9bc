"""Make docs/dashboard.png, the README's picture of ``export --format html``.

Writes 160 synthetic reports (bench/synth.py, each with a ``## Token Usage`` table), imports
them into a throwaway store with the real CLI, exports the dashboard, and photographs it
with Debian's headless Chromium:

    python scripts/dashboard_screenshot.py [OUTPUT.png] [--dark]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from synth import write_reports  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]  # fmt: skip


def token_table(rng: random.Random) -> str:
    tokens = [rng.randint(20_000, 400_000), rng.randint(5_000, 60_000),
              rng.randint(0, 50_000), rng.randint(100_000, 2_000_000)]  # fmt: skip
    cost = tokens[0] * 3e-6 + tokens[1] * 15e-6 + tokens[2] * 3.75e-6 + tokens[3] * 0.3e-6
    rows = ("Input", "Output", "Cache creation", "Cache read")
    lines = ["", "## Token Usage", "", "| Metric | Tokens |", "|--------|--------|"]
    lines += [f"| {row} | {value:,} |" for row, value in zip(rows, tokens, strict=True)]
    lines += [f"| Total | {sum(tokens):,} |", f"| Cost | ${cost:.2f} |", ""]
    return "\n".join(lines)


def phaser(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([sys.executable, "-m", "phaser_analytics", "analytics", *map(str, args)],
                   check=True, stdout=subprocess.DEVNULL, env=env)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=REPO / "docs" / "dashboard.png")
    parser.add_argument("--dark", action="store_true", help="photograph the dark scheme")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="phaser-shot-") as tmp:
        root = Path(tmp)
        rng = random.Random(7)
        for path in write_reports(root / "reports", range(160), seed=3):
            path.write_text(path.read_text(encoding="utf-8") + token_table(rng), encoding="utf-8")
        project = root / "project"
        project.mkdir()
        # The token tables of the reports, not this machine's Claude transcripts.
        (root / "claude").mkdir()
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root / "claude"),
               "PHASER_HOME": str(root / "home")}  # fmt: skip
        phaser("import", root / "reports", "--recursive", "--project", project, env=env)
        page = root / "dashboard.html"
        phaser("export", "--format", "html", "--project", project, "--since", "2024-07-01",
               "--until", "2024-12-31", "--by", "week", "--tz", "UTC", "-o", page,
               env=env)  # fmt: skip
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={root / 'profile'}",
                 "--window-size=1280,1500", f"--screenshot={args.output.resolve()}"]  # fmt: skip
        if args.dark:
            flags.append("--force-dark-mode")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([chromium, *flags, page.as_uri()], check=True, timeout=120, **quiet)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
