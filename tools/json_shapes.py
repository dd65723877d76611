"""The shape of every command's ``--json`` output, from a real run (for docs/cli.md).

A small story is played through the CLI in a temporary folder (keys, a ledger, KP status,
participants, an export under a KP certificate, a split, a merge, a cut, grading, a sale,
proofs, a report, an export to EPCIS, a simulation) with ``--json``, and each output is
reduced to its shape: every value replaced by its kind (``<integer>``, ``<text>``,
``<hex>``, ``<base64>``, ``<carats>``, ``<date>``, ``<boolean>``), lists by their first
element. The shapes are deterministic (ids, times and roots are not), so
``tests/cli/test_docs.py`` catches any change of shape that the reference does not show.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.app import main

_HEX = re.compile(r"[0-9a-f]{16,}\Z")
_B64 = re.compile(r"[A-Za-z0-9+/]{42,}={0,2}\Z")
_CARATS = re.compile(r"-?[0-9]+\.[0-9]{2}\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def shape(value: Any) -> Any:
    """``value`` with every leaf replaced by its kind."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "<boolean>"
    if isinstance(value, int):
        return "<integer>"
    if isinstance(value, float):
        return "<number>"
    if isinstance(value, str):
        for pattern, kind in ((_HEX, "<hex>"), (_B64, "<base64>"), (_CARATS, "<carats>")):
            if pattern.match(value):
                return kind
        return "<date>" if _DATE.match(value) else "<text>"
    return value


class _Story:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = str(folder / "kp.db")
        self.runner = CliRunner()
        self.shapes: dict[str, str] = {}

    def key(self, name: str) -> str:
        return str(self.folder / "keys" / f"{name}.key")

    def pub(self, name: str) -> str:
        return str(self.folder / "keys" / f"{name}.pub")

    def run(self, command: str, *args: str, ledger: bool = True) -> Any:
        """Run ``kpledger --json COMMAND ARGS`` and record the shape of its output."""
        argv = ["--ledger", self.db] if ledger else []
        result = self.runner.invoke(main, [*argv, "--json", *command.split(), *args])
        if result.exit_code != 0:
            raise RuntimeError(f"{command} {args}: {result.output}")
        value = json.loads(result.stdout) if result.stdout.strip() else None
        if value is not None and command not in self.shapes:
            self.shapes[command] = json.dumps(shape(value), indent=2)
        return value


def _play(s: _Story) -> None:
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    people = [
        ("kp-bw", "BW Authority", "authority", "BW"),
        ("kp-be", "BE Authority", "authority", "BE"),
        ("mine", "Jwaneng", "mine", "BW"),
        ("ant", "Antwerp", "trader,cutter", "BE"),
        ("lab", "Lab", "grader", "BE"),
        ("shop", "Shop", "retailer", "BE"),
        ("grower", "Grower", "producer", "BE"),
        ("eu", "EU Sanctions", "publisher", "BE"),
    ]
    for name in ["op", *(p[0] for p in people)]:
        s.run("key new", name, "--dir", str(s.folder / "keys"), "--no-passphrase", ledger=False)
    s.run("key show", s.pub("op"), ledger=False)
    s.run("key vkey", s.pub("op"), "--name", "docs.example/ledger", ledger=False)
    s.run("init", "--key", s.key("op"), "--origin", "docs.example/ledger")
    for cc in ("BW", "BE"):
        s.run("kp-status set", "--key", s.key("op"), "--country", cc, "--status", "participant",
              "--from", "2003-01-01")  # fmt: skip
    for key, name, roles, cc in people:
        s.run("participant add", "--key", s.key("op"), "--pub", s.pub(key), "--name", name,
              "--role", roles, "--country", cc)  # fmt: skip
    s.run("participant list")
    s.run("participant show", "Antwerp")
    s.run("kp-status list")
    s.run("param list")
    s.run("origin", "--key", s.key("mine"), "--parcel", "P1", "--carats", "100.00", "--stones",
          "300", "--mine", "Pit 1")  # fmt: skip
    s.run("certificate issue", "--key", s.key("kp-bw"), "--number", "BW-1", "--parcels", "P1",
          "--exporter", "Jwaneng", "--importer", "Antwerp", "--value-usd", "13100",
          "--expires", expires)  # fmt: skip
    offer = s.run("transfer", "--key", s.key("mine"), "--parcels", "P1", "--to", "Antwerp",
                  "--certificate", "BW-1", "--warranty")  # fmt: skip
    s.run("accept", "--key", s.key("ant"), offer["id"])
    s.run("certificate confirm", "BW-1", "--key", s.key("kp-be"))
    s.run("split", "--key", s.key("ant"), "--parcel", "P1", "--into", "A:60:200,B:39.5:100",
          "--dry-run")  # fmt: skip
    s.run("split", "--key", s.key("ant"), "--parcel", "P1", "--into", "A:60:200,B:39.5:100")
    s.run("merge", "--key", s.key("ant"), "--parcels", "A,B", "--into", "M")
    s.run("split", "--key", s.key("ant"), "--parcel", "M", "--into", "C:2.40:1,D:97.10:299")
    s.run("cut", "--key", s.key("ant"), "--parcels", "C", "--into", "ST-1:1.05")
    offer = s.run("transfer", "--key", s.key("ant"), "--parcels", "ST-1", "--to", "Lab",
                  "--warranty")  # fmt: skip
    s.run("accept", "--key", s.key("lab"), offer["id"])
    s.run("grade", "--key", s.key("lab"), "--stone", "ST-1", "--report", "GIA-1")
    offer = s.run("transfer", "--key", s.key("lab"), "--parcels", "ST-1", "--to", "Shop",
                  "--warranty", "--out", str(s.folder / "t.kpe"))  # fmt: skip
    submitted = s.run("submit", str(s.folder / "t.kpe"))
    s.run("accept", "--key", s.key("shop"), submitted["id"])
    offer = s.run("transfer", "--key", s.key("ant"), "--parcels", "D", "--to", "Shop")
    s.run("reject", "--key", s.key("shop"), offer["id"])
    offer = s.run("transfer", "--key", s.key("ant"), "--parcels", "D", "--to", "Shop")
    s.run("cancel", "--key", s.key("ant"), offer["id"])
    s.run("grow", "--key", s.key("grower"), "--parcel", "LG-1", "--carats", "10.00", "--stones",
          "30", "--facility", "CVD 1")  # fmt: skip
    s.run("sell", "--key", s.key("shop"), "--stone", "ST-1", "--price", "7400.00", "USD")
    today = dt.date.today().isoformat()
    s.run("param set", "confirm-days", "45", "--from", today, "--key", s.key("op"))
    s.run("key new", "grower2", "--dir", str(s.folder / "keys"), "--no-passphrase", ledger=False)
    s.run("participant rotate", "Grower", "--key", s.key("op"), "--pub", s.pub("grower2"),
          "--old-key", s.key("grower"))  # fmt: skip
    s.run("participant revoke", "Grower", "--key", s.key("op"), "--reason", "closed")
    s.run("governance show")
    earlier = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    s.run("sanction designate", "--key", s.key("eu"), "EU", "Shop", "--from", earlier)
    s.run("sanction delist", "--key", s.key("eu"), "EU", "Shop", "--from", today)
    s.run("sanction list")
    s.run("log")
    s.run("show", "0")
    s.run("history", "P1")
    s.run("trace", "ST-1")
    s.run("inventory", "Antwerp")
    s.run("warranty reconcile", "Antwerp", "--from", "2020-01-01", "--to",
          dt.date.today().isoformat())  # fmt: skip
    s.run("verify")
    first = s.run("checkpoint", "--key", s.key("op"))
    s.run("checkpoint", "--show")
    old_cp = s.folder / "cp-old.txt"
    old_cp.write_text(first["note"])
    s.run("origin", "--key", s.key("mine"), "--parcel", "P2", "--carats", "1.00", "--stones", "1",
          "--mine", "Pit 1")  # fmt: skip
    new_cp = s.folder / "cp-new.txt"
    new_cp.write_text(s.run("checkpoint", "--key", s.key("op"))["note"])
    vkey = s.run("key vkey", s.pub("op"), "--name", "docs.example/ledger", ledger=False)["vkey"]
    s.run("verify-consistency", str(old_cp), str(new_cp), "--trust", vkey)
    wkey = s.run("witness vkey", s.pub("eu"), "--name", "docs.example/w1", ledger=False)["vkey"]
    cosigned = s.run("witness cosign", "--key", s.key("eu"), "--state",
                     str(s.folder / "w1.json"), "--trust", vkey, "--name", "docs.example/w1",
                     str(new_cp), ledger=False)  # fmt: skip
    (s.folder / "cosigned.txt").write_text(cosigned["note"])
    s.run("witness submit", str(s.folder / "cosigned.txt"), "--vkey", wkey)
    s.run("publish", "--to", str(s.folder / "site"))
    s.run("proof inclusion", "3")
    s.run("proof consistency", "3", str(first["size"]))
    bundle = str(s.folder / "ST-1.kpproof")
    s.run("prove", "ST-1", "-o", bundle)
    s.run("verify-proof", bundle, "--trust", vkey, ledger=False)
    s.run("report", "ST-1", "-o", str(s.folder / "ST-1.html"))
    s.run("export", "--epcis", "ST-1", "-o", str(s.folder / "ST-1.jsonld"))
    s.run("openings list")
    s.run("openings export", "--certificate", "BW-1", "-o", str(s.folder / "cert.kpe"))
    s.run("openings import", str(s.folder / "cert.kpe"))
    s.run("context export", "-o", str(s.folder / "ctx.kpctx"), "--for", "Antwerp")
    s.db = str(s.folder / "sim.db")
    s.run("simulate", "--parcels", "1", "--keys", str(s.folder / "sim-keys"))
    s.run("migrate", s.db, ledger=False)


def json_shapes() -> dict[str, str]:
    """``{command path: the shape of its --json output, as indented JSON}``."""
    with tempfile.TemporaryDirectory() as folder:
        old = os.environ.pop("KPLEDGER_PASSPHRASE", None)
        story = _Story(Path(folder))
        try:
            _play(story)
        finally:
            if old is not None:
                os.environ["KPLEDGER_PASSPHRASE"] = old
        return story.shapes


#: What ``render`` of docs/cli.md says of JSON output before the commands.
CONVENTIONS = """## JSON output

With `--json` (before or after the command) every command prints one JSON value on
stdout; diagnostics stay on stderr, and an error is one JSON object on stderr:
`{"error": CODE, "rule": RULE or null, "message": TEXT}`. The conventions hold everywhere:

- keys are snake_case;
- weights are decimal strings of carats under a key `carats` or `*_carats` (`"1.05"`),
  never floats and never points (the signed entries hold points, 1/100 ct; the
  SQLite views name them `points`);
- entry ids, key ids and hashes are lowercase hex; tree roots, proofs and signatures
  are base64, as in C2SP checkpoints;
- times are integers, milliseconds since the epoch (UTC); dates are `YYYY-MM-DD`;
- shares of origin are integers in parts per million (`*_ppm`).

Under each command below, the shape of its output from a run of the current code:
every value replaced by its kind (`<integer>`, `<text>`, `<hex>`, `<base64>`,
`<carats>`, `<date>`, `<boolean>`), a list by its first element. Commands that
print no JSON of their own (`demo`, `serve`, `completion`, ...) have none.
"""
