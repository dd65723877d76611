"""docs/cli.md is generated from --help; this fails when it drifts."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.gen_cli_docs import DOC, render  # noqa: E402


def test_cli_reference_is_current() -> None:
    assert DOC.read_text() == render(), "docs/cli.md is stale: run python tools/gen_cli_docs.py"


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


#: Commands whose output is not one JSON value of their own: a server in the foreground,
#: the demo's story, a shell script, network commands whose JSON is specs/node.md's, the
#: interactive trust store, and the governance ceremony (specs/rules.md §3.9), covered by
#: tests/unit/test_governance.py.
NO_JSON_SHAPE = {
    "completion",
    "demo",
    "serve",
    "sync",
    "witness serve",
    "trust add",
    "trust list",
    "trust remove",
    "governance propose",
    "governance sign",
    "governance submit",
    "import",
}


def test_every_command_documents_its_json_shape() -> None:
    import click

    from cli.app import main
    from tools.gen_cli_docs import walk

    doc = DOC.read_text()
    missing = []
    for path in walk(main, []):
        cmd: click.Command = main
        for name in path:
            assert isinstance(cmd, click.Group)
            cmd = cmd.commands[name]
        title = "## kpledger " + " ".join(path) + "\n"
        start = doc.index(title)
        end = doc.find("\n## kpledger", start + 1)
        if isinstance(cmd, click.Group) or " ".join(path) in NO_JSON_SHAPE:
            continue
        if "JSON output (`--json`)" not in doc[start:end]:
            missing.append(" ".join(path))
    assert missing == []
    for rule in ("snake_case", "decimal strings of carats", "base64", "milliseconds"):
        assert rule in doc
