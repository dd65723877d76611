"""The repository stands alone: its tests, tools and benchmarks read nothing outside it.

Two checks keep a fresh clone's ``make test`` working wherever it is cloned:

- a scan of the code under ``tests/``, ``tools/`` and ``bench/``, the ``Makefile`` and
  ``pyproject.toml`` for paths that leave the checkout: a ``../shared`` folder, the
  ``KPLEDGER_SHARED`` override it once had, ``parents[N].parent``, a ``Path(__file__)``
  climb above the repository root, a ``"shared"`` path segment, an absolute ``/work/`` path;
- the whole suite collected (``pytest --collect-only``) in a copy of the tracked files, in
  an empty temporary folder with nothing beside it. Collection imports every test module
  and builds every parametrised case, which is where the vector files are read.

The public vectors the tests need are vendored under ``tests/vectors/`` (see its README.md).
This module does not run the collected tests; the full run does.
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
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

SCANNED_DIRS = ("tests", "tools", "bench")
SCANNED_FILES = ("Makefile", "pyproject.toml")
SCANNED_SUFFIXES = {".py", ".sh", ".go", ".toml", ".cfg", ".ini"}

#: Text that points outside the repository, with what it is.
ESCAPES = [
    (re.compile(r"\.\./+shared\b"), "a ../shared path"),
    (re.compile(r"\bKPLEDGER_SHARED\b"), "the KPLEDGER_SHARED override"),
    (re.compile(r"\.parents\[\d+\]\s*\.parent\b"), "a parent of parents[N]"),
    (re.compile(r"/\s*[\"']shared[\"']"), "a 'shared' path segment"),
    (re.compile(r"(?<![\w.~-])/work/"), "an absolute /work/ path"),
]
#: ``__file__).parents[N]`` or ``__file__).parent.parent...``, optionally after ``.resolve()``.
CLIMB = re.compile(r"__file__\)(?:\.resolve\(\))?(?:\.parents\[(\d+)\]|((?:\.parent\b)+))")

#: Test modules whose collection reads vendored vector files; each must collect cases.
VECTOR_MODULES = {
    "tests/vectors/test_tlog_vectors.py::test_inclusion_probe[": 98,
    "tests/vectors/test_tlog_vectors.py::test_consistency_probe[": 98,
    "tests/vectors/test_note_vectors.py::test_tessera_checkpoint_verifies[": 17,
    "tests/vectors/test_note_vectors.py::test_signed_note_kat[": 5,
    "tests/vectors/test_note_vectors.py::test_cosignature_kat[": 2,
    "tests/unit/test_epcis.py::test_gs1_examples_validate[": 7,
}


def escapes(rel: str, text: str) -> list[str]:
    """Every place in ``text`` (the file ``rel``, relative to the root) that leaves the repo.

    A ``Path(__file__)`` climb of k levels leaves the repository when k exceeds the number of
    parts of ``rel``: ``tests/unit/x.py`` reaches the root at ``parents[2]``.
    """
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{lineno}: "
        found += [where + what for pattern, what in ESCAPES if pattern.search(line)]
        for index, parents in CLIMB.findall(line):
            levels = int(index) + 1 if index else parents.count(".parent")
            if levels > len(Path(rel).parts):
                found.append(where + f"Path(__file__) climbs {levels} levels, above the root")
    return found


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES]
    for folder in SCANNED_DIRS:
        files += [
            p
            for p in sorted((ROOT / folder).rglob("*"))
            if p.suffix in SCANNED_SUFFIXES and p.is_file() and "__pycache__" not in p.parts
        ]
    return [p for p in files if p.relative_to(ROOT).as_posix() != SELF]


def tracked_files() -> list[str]:
    """The files a clone would hold: ``git ls-files``, as present in the working tree."""
    git = shutil.which("git")
    assert git is not None, "git is needed to list the tracked files"
    out = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in out.split("\0") if name and (ROOT / name).is_file()]


def collect(root: Path) -> subprocess.CompletedProcess[str]:
    """``pytest --collect-only`` of every test, slow ones included, with ``root`` as the code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPLEDGER_", "PYTEST_"))}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the scan ------------------------------------------------------------------------------


def test_no_code_reaches_outside_the_repository() -> None:
    files = scanned_files()
    rels = {p.relative_to(ROOT).as_posix() for p in files}
    assert len(files) > 50
    assert {
        "Makefile",
        "tests/vectors/test_tlog_vectors.py",
        "tests/vectors/test_note_vectors.py",
        "tests/vectors/test_ed25519_vectors.py",
        "tests/property/test_note_fuzz.py",
        "tools/gen_vectors.py",
        "bench/run.py",
    } <= rels
    found = [hit for p in files for hit in escapes(p.relative_to(ROOT).as_posix(), p.read_text())]
    assert found == []


@pytest.mark.parametrize(
    ("rel", "line"),
    [
        ("tests/vectors/test_x.py", 'S = Path(__file__).resolve().parents[2].parent / "shared"'),
        ("tests/vectors/test_x.py", 'VECTORS = Path("../shared/tlog-vectors")'),
        ("tests/x.py", 'SHARED = Path(os.environ["KPLEDGER_SHARED"])'),
        ("tools/x.py", 'SCHEMA = Path("/work/shared/epcis/EPCIS-JSON-Schema.json")'),
        ("tests/unit/test_x.py", 'DATA = ROOT.parent / "shared" / "crypto-vectors"'),
        ("tests/unit/test_x.py", "OUTSIDE = Path(__file__).resolve().parents[3]"),
        ("bench/x.py", "OUTSIDE = Path(__file__).parent.parent.parent"),
        ("Makefile", "\tKPLEDGER_SHARED=/srv/vectors $(BIN)/pytest -q"),
    ],
)
def test_scan_finds_paths_outside(rel: str, line: str) -> None:
    assert len(escapes(rel, f"x = 1\n{line}\n")) >= 1
    assert escapes(rel, f"x = 1\n{line}\n")[0].startswith(f"{rel}:2: ")


@pytest.mark.parametrize(
    ("rel", "line"),
    [
        ("tests/unit/test_x.py", 'SPEC = Path(__file__).resolve().parents[2] / "specs"'),
        ("tests/vectors/test_x.py", "ROOT = Path(__file__).resolve().parents[2]"),
        ("bench/x.py", "ROOT = Path(__file__).resolve().parent.parent"),
        ("tools/x.py", 'OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors"'),
        ("tests/vectors/test_x.py", "from tests.vectors import TLOG"),
        ("tests/unit/test_x.py", 'tiles.parse_tile_path("tile/../0/000")'),
        ("tests/unit/test_x.py", "def test_shared_cache() -> None:"),
    ],
)
def test_scan_allows_paths_inside(rel: str, line: str) -> None:
    assert escapes(rel, line) == []


# --- collection of a lone copy -------------------------------------------------------------


def test_suite_collects_in_a_lone_copy(tmp_path: Path) -> None:
    copy = tmp_path / "kpledger"
    for name in tracked_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpledger"]  # nothing beside it
    assert (copy / "tests/vectors/README.md").is_file()

    where = subprocess.run(
        [sys.executable, "-c", "import cli, ledger, tests; print(ledger.__file__, cli.__file__)"],
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(copy) for p in where), where

    result = collect(copy)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "FileNotFoundError" not in output
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    assert re.search(rf"^{len(ids)} tests collected", result.stdout, re.M), result.stdout[-500:]
    assert len(ids) > 1000
    for prefix, count in VECTOR_MODULES.items():
        assert sum(i.startswith(prefix) for i in ids) == count, prefix
    modules = {name for name in tracked_files() if re.fullmatch(r"tests/.*/test_\w+\.py", name)}
    assert modules == {i.split("::")[0] for i in ids}


def test_collection_fails_when_a_test_reads_outside(tmp_path: Path) -> None:
    # The same collection run, on a module that reads a vector file from a sibling folder.
    copy = tmp_path / "kpledger"
    (copy / "tests").mkdir(parents=True)
    (copy / "tests" / "__init__.py").write_text("")
    (copy / "tests" / "test_reads_outside.py").write_text(
        "from pathlib import Path\n"
        "DATA = (Path(__file__).resolve().parents[1].parent / 'shared' / 'v.json').read_text()\n"
        "def test_x() -> None:\n    assert DATA\n"
    )
    assert escapes(
        "tests/test_reads_outside.py", (copy / "tests/test_reads_outside.py").read_text()
    )
    result = collect(copy)
    assert result.returncode != 0
    assert "FileNotFoundError" in result.stdout + result.stderr
