"""The README is executable: its walk-through runs as written, in order, in an empty folder.

Every ```sh block from the "Walk-through" heading on is joined into one bash script and run
with ``set -euo pipefail`` in a fresh directory, with the installed ``kpledger`` (and
``sqlite-utils``) first on PATH and no KPLEDGER_* variable inherited; the blocks before it
(``make demo``, ``make test``) are how one gets there. Blocks that must not run (a server
in the foreground) are written as ```console.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def walk_through() -> list[str]:
    text = README.read_text(encoding="utf-8")
    text = text[text.index("## Walk-through") :]
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_the_walk_through_is_complete() -> None:
    script = "\n".join(walk_through())
    steps = ["kpledger init ", "participant add", "certificate issue", "accept", " cut "]
    steps += ["checkpoint --key", "prove ST-0001", "verify-proof", "report ST-0001"]
    for step in steps:
        assert step in script, step
    assert "3fa2c1d0" not in script  # no placeholder ids: the printed id is used


@pytest.mark.skipif(shutil.which("bash") is None, reason="the README's blocks are bash")
def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPLEDGER_")}
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), HOME=str(tmp_path))
    script = "set -euo pipefail\n" + "\n".join(walk_through())
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "VERDICT: VALID" in out
    assert "would append record" in out  # the cut previewed with --dry-run
    assert "valid: 17 records" in out
    assert "ST-0001" in out and "Fifth Avenue Jewels" in out
    for name in ("ST-0001.kpproof", "ST-0001.html", "ST-0001.jsonld", "operator.vkey"):
        assert (tmp_path / name).stat().st_size > 0, name
