"""The KP scheme's commands against a node: the same answers as on the node's file."""

from __future__ import annotations

import datetime as dt
import json

from tests.cli.test_cli import export
from tests.node.conftest import Scene

TODAY = dt.date.today().isoformat()


def test_the_scheme_against_a_node(scene: Scene) -> None:
    node, local = scene.remote, scene.local
    node("param", "set", "confirm-days", "10", "--from", TODAY, "--key", node.key("op"))
    rows = {r["name"]: r for r in json.loads(node("param", "list", json_out=True).stdout)}
    assert rows["confirm-days"]["value"] == 10
    export(node)
    node("certificate", "confirm", "BW-0001", "--key", node.key("kpbe"))
    node("participant", "revoke", "--key", node.key("op"), "BW Authority",
         "--compromised-since", TODAY)  # fmt: skip
    trace = json.loads(node("trace", "P1", json_out=True).stdout)
    assert trace["quarantine"][0]["type"] == "certificate.issue"
    assert trace == json.loads(local("trace", "P1", json_out=True).stdout)
    remote = json.loads(node("verify", json_out=True).stdout)
    assert remote["quarantined"] == json.loads(local("verify", json_out=True).stdout)["quarantined"]
