"""Every number the CLI takes is range-checked: one usage line, never an OverflowError.

A walk over every command checks that each integer option or argument is a bounded
``click.IntRange`` and each real number a bounded range that refuses ``nan`` and ``inf``;
the commands the issue named are run with huge values.
"""

from __future__ import annotations

import click
import pytest

from cli.app import main
from tests.cli.test_cli import Cli, make_cli


def walk(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out.extend(walk(cmd, prefix + name + " "))
    return out


COMMANDS = [("", main), *walk(main)]


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n or "kpledger" for n, _ in COMMANDS])
def test_every_number_is_bounded(name: str, command: click.Command) -> None:
    for param in command.params:
        kind = param.type
        if isinstance(kind, click.IntRange):
            assert kind.min is not None and kind.max is not None, (name, param.name)
            assert kind.max <= (1 << 63) - 1 and kind.min >= -(1 << 63), (name, param.name)
        elif isinstance(kind, click.FloatRange):
            assert kind.min is not None and kind.max is not None, (name, param.name)
            with pytest.raises(click.BadParameter):
                kind.convert("nan", param, None)
            with pytest.raises(click.BadParameter):
                kind.convert("inf", param, None)
        else:
            assert kind not in (click.INT, click.FLOAT), f"{name} {param.name}: unbounded {kind}"


HUGE = "99999999999999999999999"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return make_cli(tmp_path_factory.mktemp("ranges"))


@pytest.mark.parametrize(
    "argv",
    [
        ["log", "--from", HUGE],
        ["log", "--limit", HUGE],
        ["log", "--from", "-1"],
        ["proof", "inclusion", HUGE],
        ["proof", "inclusion", "0", "--size", HUGE],
        ["proof", "consistency", "0", HUGE],
        ["simulate", "--parcels", "99999999999999999999", "--seed", "1"],
        ["simulate", "--parcels", "1", "--seed", HUGE],
        ["simulate", "--parcels", "1", "--seed", "1", "--faults", "nan"],
        ["serve", "--rate", "inf"],
        ["serve", "--max-body", HUGE],
    ],
    ids=lambda a: " ".join(a),
)
def test_huge_numbers_are_one_usage_line(cli: Cli, argv: list[str]) -> None:
    cli.rejected(*argv, code=2, contains="range")


def test_the_largest_index_is_an_empty_page(cli: Cli) -> None:
    big = str((1 << 63) - 1)
    assert cli("log", "--from", big).stdout == ""
    assert cli("log", "--from", "3", "--limit", big).stdout.count("\n") > 1
