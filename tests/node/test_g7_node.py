"""The G7/EU rules and warranties against a node: the same answers as on the node's file."""

from __future__ import annotations

import datetime as dt
import json

from tests.cli.test_g7_cli import EXTRA
from tests.node.conftest import Scene

TODAY = dt.date.today().isoformat()


def test_the_g7_commands_against_a_node(scene: Scene) -> None:
    node, local = scene.remote, scene.local
    for key, name, roles, cc in EXTRA:
        local("key", "new", key, "--dir", str(local.keys), "--no-passphrase")
        node("participant", "add", "--key", node.key("op"), "--pub", local.pub(key), "--name",
             name, "--role", roles, "--country", cc)  # fmt: skip
    node("kp-status", "set", "--key", node.key("op"), "--country", "IN", "--status",
         "participant", "--from", "2003-01-01")  # fmt: skip
    node("sanction", "designate", "--key", node.key("eulist"), "EU", "Moscow Trader", "--from",
         TODAY)  # fmt: skip
    node.rejected("sanction", "designate", "--key", node.key("ant"), "EU", "Antwerp", "--from",
                  TODAY, contains="R-ID-1")  # fmt: skip
    for view in (("participant", "show", "Moscow Trader"), ("sanction", "list")):
        assert node(*view, json_out=True).stdout == local(*view, json_out=True).stdout
    assert f"designation  EU: listed from {TODAY}" in node("participant", "show",
                                                            "Moscow Trader").stdout  # fmt: skip
    node("grow", "--key", node.key("lab"), "--parcel", "LG-1", "--carats", "3.00", "--stones",
         "9", "--facility", "CVD")  # fmt: skip
    tid = node("transfer", "--key", node.key("lab"), "--parcels", "LG-1", "--to", "Antwerp",
               "--warranty", "--wdc", "WDC-IN-7").stdout.strip()  # fmt: skip
    node("accept", "--key", node.key("ant"), tid)
    trace = json.loads(node("trace", "LG-1", json_out=True).stdout)
    assert trace["nature"] == "laboratory-grown" and set(trace["custody_path"]) == {"IN", "BE"}
    assert trace == json.loads(local("trace", "LG-1", json_out=True).stdout)
    args = ("warranty", "reconcile", "Antwerp", "--from", TODAY, "--to", TODAY)
    remote = json.loads(node(*args, json_out=True).stdout)
    assert remote == json.loads(local(*args, json_out=True).stdout)
    assert remote["received"][0]["wdc"] == "WDC-IN-7"
