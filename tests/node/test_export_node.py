"""``kpledger export --epcis`` against a node gives the same document as on its file."""

from __future__ import annotations

import json

from tests.cli.test_cli import export as ship
from tests.node.conftest import Scene
from tests.vectors import epcis_schema


def test_node_export_equals_the_file_export(scene: Scene) -> None:
    node, local = scene.remote, scene.local
    ship(node)  # origin, KP certificate, transfer, accept, through the node
    node("split", "--key", node.key("ant"), "--parcel", "P1", "--into", "A:60:200,B:39.5")
    for args in (("--all",), ("A",)):
        remote = node("export", "--epcis", *args, "-o", "-").stdout
        assert remote == local("export", "--epcis", *args, "-o", "-").stdout, args
        document = json.loads(remote)
        assert epcis_schema.errors(document) == []
        assert len(document["epcisBody"]["eventList"]) == 5
