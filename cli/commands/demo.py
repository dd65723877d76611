"""``kpledger demo``: a realistic supply chain played through the real CLI commands.

Every step is the command a user would type, run in-process through the ``kpledger``
group the demo itself was started from, and echoed with a ``$`` prompt, so the demo
doubles as an end-to-end test of the CLI. It calls no library function directly (the
commands do), and it writes only into its own work directory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

import ledger as lg
from cli.context import enable_key_cache

PASSPHRASE = "demo passphrase - use a real one"  # noqa: S105 - demo keys only
ORIGIN = "kp.example.org/ledger"

AUTHORITIES = {
    "BW": "BW KP Authority",
    "CA": "CA KP Authority",
    "AO": "AO KP Authority",
    "RU": "RU KP Authority",
    "BE": "BE Diamond Office",
    "AE": "AE KP Office",
    "IN": "IN KP Authority",
    "US": "US KP Authority",
    "VE": "VE KP Authority",
}
PARTIES = [
    ("jwaneng", "Jwaneng Mine", "mine", "BW"),
    ("diavik", "Diavik Mine", "mine", "CA"),
    ("mir", "Mir Mine", "mine", "RU"),
    ("antwerp", "Antwerp Rough", "trader", "BE"),
    ("dubai", "Dubai Hub", "trader", "AE"),
    ("surat", "Surat Cutting", "cutter", "IN"),
    ("mumbai", "Mumbai Traders", "trader", "IN"),
    ("lab", "NY Gem Lab", "grader", "US"),
    ("retail", "Fifth Avenue Jewels", "retailer", "US"),
    ("guaniamo", "Guaniamo Mine", "mine", "VE"),
    ("moscow", "Moscow Rough", "trader", "RU"),
    ("grower", "Surat Lab-Grown", "producer", "IN"),
]
#: The registry's governors (key name, display name): every registry change needs the
#: signatures of THRESHOLD of them; the operator only sequences the log.
GOVERNORS = [
    ("gov-chair", "KP Chair"),
    ("gov-producers", "Producing Participants"),
    ("gov-traders", "Trading Centres"),
    ("gov-consumers", "Consuming Participants"),
    ("gov-civil", "Civil Society Coalition"),
]
THRESHOLD = 3
#: The witness whose cosignatures time-stamp checkpoints (grandfathering, R-SA-3).
WITNESS = "demo.example/witness1"
#: Who confirms the import under each certificate of the story (the importing authority).
CONFIRMS = {
    "BW-2026-000117": "kp-be",
    "CA-2026-004410": "kp-be",
    "RU-2026-031877": "kp-ae",
    "BE-2026-118020": "kp-ae",
    "BE-2026-118044": "kp-in",
    "AE-2026-552301": "kp-in",
    "BW-2026-000131": "kp-ru",
    "RU-2026-031990": "kp-ae",
    "AE-2026-552377": "kp-in",
}


class Story:
    def __init__(self, directory: Path, app: click.Command, node: str | None = None) -> None:
        self.dir = directory
        self.app = app  # the kpledger group every step runs through
        self.db = str(directory / "kpledger.db")
        self.node = node  # a node URL: commands run with --ledger URL instead of the file
        self.trust: str | None = None  # the operator vkey pinned for the node (--trust)
        self.keys = directory / "keys"
        self.failures = 0

    def heading(self, text: str) -> None:
        click.echo("")
        click.secho(f"== {text} ==", bold=True)

    def say(self, text: str) -> None:
        click.echo(text)

    def run(self, *args: str, expect_fail: bool = False, show: bool = True) -> str:
        """Run one kpledger command in-process, echo it, return its stdout."""
        from click.testing import CliRunner

        argv = ["--ledger", self.node or self.db, *args]
        if self.node is not None and self.trust is not None:
            argv[2:2] = ["--trust", self.trust]
        if self.node is not None:  # the parties keep their prices' openings, not the node
            argv[2:2] = ["--openings", str(self.dir / "openings.db")]
        if show:
            click.secho("$ kpledger " + " ".join(shlex.quote(a) for a in args), fg="cyan")
        result = CliRunner().invoke(self.app, argv, catch_exceptions=False)
        out = result.stdout
        err = result.stderr
        if show and out.strip():
            click.echo(out.rstrip())
        if expect_fail:
            if result.exit_code == 0:
                self.failures += 1
                click.secho("!! expected this to be rejected, but it was accepted", fg="red")
            else:
                click.secho(f"   rejected (exit {result.exit_code}): {err.strip()}", fg="yellow")
        elif result.exit_code != 0:
            self.failures += 1
            click.secho(f"!! failed (exit {result.exit_code}): {err.strip()}", fg="red")
            raise click.ClickException(f"demo step failed: kpledger {' '.join(args)}")
        elif show and err.strip():
            click.echo(err.rstrip())
        return out.strip()

    def verdict(self, *args: str, expect_fail: bool = False) -> None:
        """Run a verifying command, showing only its verdict and the lines that explain it."""
        click.secho("$ kpledger " + " ".join(shlex.quote(a) for a in args), fg="cyan")
        out = self.run(*args, expect_fail=expect_fail, show=False)
        keep = ("Custody path", "Time evidence", "Grandfathered", "VERDICT", "  - R-")
        click.echo("\n".join(ln for ln in out.splitlines() if ln.startswith(keep)))

    def key(self, name: str) -> str:
        return str(self.keys / f"{name}.key")

    def pub(self, name: str) -> str:
        return str(self.keys / f"{name}.pub")

    def governed(self) -> list[str]:
        """``--key``/``--cosign`` of three governors signing a registry change together."""
        chair, producers, traders = (g for g, _ in GOVERNORS[:THRESHOLD])
        return ["--key", self.key(chair), "--cosign", self.key(producers),
                "--cosign", self.key(traders)]  # fmt: skip


@click.command()
@click.option("--dir", "directory", default="demo-run", show_default=True, help="Work directory.")
@click.option("--fresh/--keep", default=True, help="Start from an empty directory.")
@click.option("--node", "use_node", is_flag=True, help="Play it against a local HTTP node.")
def demo(directory: str, fresh: bool, use_node: bool) -> None:
    """Play a realistic supply chain end to end through the CLI, attacks included.

    With --node the operator starts 'kpledger serve' on a free local port after 'init',
    and every later command runs with --ledger http://127.0.0.1:PORT.

    \b
    Example:
      kpledger demo --dir /tmp/kp-demo
    """
    started = time.monotonic()
    path = Path(directory)
    if fresh and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("KPLEDGER_PASSPHRASE")
    os.environ["KPLEDGER_PASSPHRASE"] = PASSPHRASE

    def restore() -> None:  # the demo's passphrase is for its own keys only
        if previous is None:
            os.environ.pop("KPLEDGER_PASSPHRASE", None)
        else:
            os.environ["KPLEDGER_PASSPHRASE"] = previous

    click.get_current_context().call_on_close(restore)
    enable_key_cache()
    s = Story(path, click.get_current_context().find_root().command)
    expires = (dt.date.today() + dt.timedelta(days=45)).isoformat()

    s.heading("1. Keys: every participant creates an encrypted Ed25519 key")
    s.say("Keys are sealed with scrypt + ChaCha20-Poly1305 (passphrase from KPLEDGER_PASSPHRASE).")
    names = (
        ["operator", "witness"]
        + [g for g, _ in GOVERNORS]
        + [f"kp-{cc.lower()}" for cc in AUTHORITIES]
        + [p[0] for p in PARTIES]
    )
    for n in names:
        s.run("key", "new", n, "--dir", str(s.keys), show=n == "operator")
    s.say(f"... and {len(names) - 1} more keys in {s.keys}")

    s.heading("2. The operator opens a ledger governed by 3 of 5; the governors record KP status")
    s.say("No single key rules the registry: every change needs 3 of the 5 governors' signatures;")
    s.say("the operator only orders the log and signs checkpoints.")
    governors = path / "governors.txt"
    governors.write_text("".join(f"{name} = keys/{g}.pub\n" for g, name in GOVERNORS))
    s.run(
        "init",
        "--key",
        s.key("operator"),
        "--origin",
        ORIGIN,
        "--governors",
        str(governors),
        "--threshold",
        str(THRESHOLD),
    )
    g7_policy = write_g7_policy(s)
    if use_node:
        url, stop = start_node_process(s.db, s.key("operator"), g7_policy)
        click.get_current_context().call_on_close(stop)
        s.say(f"$ kpledger --ledger {s.db} serve --key {s.key('operator')}  # now at {url}")
        s.trust = lg.format_vkey(ORIGIN, lg.load_public(s.pub("operator"))[1])
        s.say(
            f"Every command below runs against the node with --ledger {url} --trust "
            f"{s.trust}: the operator key the node's genesis, checkpoints and receipts "
            "must match"
        )
        s.node = url
    for cc in AUTHORITIES:
        s.run(
            "kp-status",
            "set",
            *s.governed(),
            "--country",
            cc,
            "--status",
            "participant",
            "--from",
            "2003-01-01",
            show=cc == "BW",
        )
    s.run(
        "kp-status",
        "set",
        *s.governed(),
        "--country",
        "CF",
        "--status",
        "suspended",
        "--from",
        "2013-05-23",
    )
    s.run("kp-status", "list")

    s.heading("3. The governors admit KP authorities, mines, traders, a cutter, a lab, a retailer")
    for cc, name in AUTHORITIES.items():
        s.run(
            "participant",
            "add",
            *s.governed(),
            "--pub",
            s.pub(f"kp-{cc.lower()}"),
            "--name",
            name,
            "--role",
            "authority",
            "--country",
            cc,
            show=False,
        )
    for key, name, role, cc in PARTIES:
        s.run(
            "participant",
            "add",
            *s.governed(),
            "--pub",
            s.pub(key),
            "--name",
            name,
            "--role",
            role,
            "--country",
            cc,
            show=key == "jwaneng",
        )
    s.run("participant", "list")

    s.heading("4. Mines register rough parcels at origin")
    s.run(
        "origin",
        "--key",
        s.key("jwaneng"),
        "--parcel",
        "JW-2026-0001",
        "--carats",
        "1250.00",
        "--stones",
        "3400",
        "--mine",
        "Jwaneng pit 3",
        "--hs",
        "7102.31",
    )
    s.run(
        "origin",
        "--key",
        s.key("diavik"),
        "--parcel",
        "DV-2026-0001",
        "--carats",
        "820.00",
        "--stones",
        "2100",
        "--mine",
        "Diavik A154N",
        "--hs",
        "7102.31",
    )
    s.run(
        "origin",
        "--key",
        s.key("mir"),
        "--parcel",
        "MIR-2026-0001",
        "--carats",
        "640.00",
        "--stones",
        "1500",
        "--mine",
        "Mir pipe",
        "--hs",
        "7102.31",
    )

    s.heading("5. Exports under KP certificates, accepted by the importers")
    s.say("Each importing authority confirms receipt to the exporting one (KPCS Annex I).")
    ship(s, "kp-bw", "BW-2026-000117", "JW-2026-0001", "jwaneng", "antwerp", "163750",
         show_confirm=True)  # fmt: skip
    ship(s, "kp-ca", "CA-2026-004410", "DV-2026-0001", "diavik", "antwerp", "79540")
    ship(s, "kp-ru", "RU-2026-031877", "MIR-2026-0001", "mir", "dubai", "62080")

    s.heading("6. Sorting in Antwerp: splits with mass balance")
    s.run(
        "split",
        "--key",
        s.key("antwerp"),
        "--parcel",
        "JW-2026-0001",
        "--into",
        "ANT-JW-A:400.00:1100,ANT-JW-B:849.50:2290",
    )
    s.run(
        "split",
        "--key",
        s.key("antwerp"),
        "--parcel",
        "DV-2026-0001",
        "--into",
        "ANT-DV-A:300.00:800,ANT-DV-B:519.80:1290",
    )

    s.heading("7. Mixing at the hubs: origin becomes a composition")
    s.run(
        "merge", "--key", s.key("antwerp"), "--parcels", "ANT-JW-A,ANT-DV-A", "--into", "ANT-MIX-1"
    )
    s.run("trace", "ANT-MIX-1")
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key("kp-be"),
        "--number",
        "BE-2026-118020",
        "--parcels",
        "ANT-DV-B",
        "--exporter",
        "Antwerp Rough",
        "--importer",
        "Dubai Hub",
        "--value-usd",
        "50420",
        "--expires",
        expires,
    )
    tid = s.run(
        "transfer",
        "--key",
        s.key("antwerp"),
        "--parcels",
        "ANT-DV-B",
        "--to",
        "Dubai Hub",
        "--certificate",
        "BE-2026-118020",
        "--warranty",
    )
    s.run("accept", "--key", s.key("dubai"), tid[:12])
    s.run("certificate", "confirm", "BE-2026-118020", "--key", s.key("kp-ae"), show=False)
    s.run(
        "merge",
        "--key",
        s.key("dubai"),
        "--parcels",
        "ANT-DV-B,MIR-2026-0001",
        "--into",
        "DXB-MIX-7",
    )
    s.run("trace", "DXB-MIX-7")

    s.heading("8. Export to the cutter in Surat")
    ship(s, "kp-be", "BE-2026-118044", "ANT-MIX-1", "antwerp", "surat", "80500")
    ship(s, "kp-ae", "AE-2026-552301", "DXB-MIX-7", "dubai", "surat", "112500")

    s.heading("9. Cutting: rough becomes polished stones (yields about 40-50%)")
    s.run(
        "split",
        "--key",
        s.key("surat"),
        "--parcel",
        "ANT-MIX-1",
        "--into",
        "SUR-A:2.40:1,SUR-A-REST:697.60:1899",
    )
    s.run(
        "cut",
        "--key",
        s.key("surat"),
        "--parcels",
        "SUR-A",
        "--into",
        "ST-0001:1.05",
        "--byproduct",
        "SUR-A-CHIPS:0.22",
    )
    s.run(
        "split",
        "--key",
        s.key("surat"),
        "--parcel",
        "DXB-MIX-7",
        "--into",
        "SUR-B:2.10:1,SUR-B-REST:1157.70:2789",
    )
    s.run("cut", "--key", s.key("surat"), "--parcels", "SUR-B", "--into", "ST-0002:0.92")

    s.heading("10. Polished goods travel with System of Warranties statements")
    tid = s.run(
        "transfer",
        "--key",
        s.key("surat"),
        "--parcels",
        "ST-0001",
        "--to",
        "NY Gem Lab",
        "--warranty",
    )
    s.run("accept", "--key", s.key("lab"), tid[:12])
    s.run("grade", "--key", s.key("lab"), "--stone", "ST-0001", "--report", "GIA-2231457810")
    tid = s.run(
        "transfer",
        "--key",
        s.key("lab"),
        "--parcels",
        "ST-0001",
        "--to",
        "Fifth Avenue Jewels",
        "--warranty",
    )
    s.run("accept", "--key", s.key("retail"), tid[:12])
    s.run("sell", "--key", s.key("retail"), "--stone", "ST-0001", "--price", "7400.00", "USD")
    s.say("The second stone ships without a warranty statement: accepted, but flagged (WARN).")
    tid = s.run(
        "transfer", "--key", s.key("surat"), "--parcels", "ST-0002", "--to", "Fifth Avenue Jewels"
    )
    s.run("accept", "--key", s.key("retail"), tid[:12])
    s.run("sell", "--key", s.key("retail"), "--stone", "ST-0002", "--price", "5100.00", "USD")

    s.heading("11. Attacks the ledger refuses")
    s.say("a) A double transfer: Surat signs two offers of the same parcel state offline.")
    first = str(path / "offer-1.kpe")
    second = str(path / "offer-2.kpe")
    s.run(
        "transfer",
        "--key",
        s.key("surat"),
        "--parcels",
        "SUR-A-REST",
        "--to",
        "Mumbai Traders",
        "--warranty",
        "--out",
        first,
    )
    s.run(
        "transfer",
        "--key",
        s.key("surat"),
        "--parcels",
        "SUR-A-REST",
        "--to",
        "Mumbai Traders",
        "--price",
        "1.00",
        "USD",
        "--out",
        second,
    )
    s.run("submit", first)
    s.run("submit", second, expect_fail=True)
    s.say("b) A split that inflates mass.")
    s.run(
        "split",
        "--key",
        s.key("antwerp"),
        "--parcel",
        "ANT-JW-B",
        "--into",
        "X-1:500.00,X-2:500.00",
        expect_fail=True,
    )
    s.say("c) A forged KP certificate: a trader signs one, then a transfer cites an unknown one.")
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key("dubai"),
        "--number",
        "AE-2026-999999",
        "--parcels",
        "ANT-JW-B",
        "--exporter",
        "Antwerp Rough",
        "--importer",
        "Dubai Hub",
        "--value-usd",
        "1000",
        "--expires",
        expires,
        expect_fail=True,
    )
    s.run(
        "transfer",
        "--key",
        s.key("antwerp"),
        "--parcels",
        "ANT-JW-B",
        "--to",
        "Dubai Hub",
        "--certificate",
        "BE-2026-FORGED1",
        expect_fail=True,
    )

    s.say("d) The operator alone registers a fake BW KP Authority, whose certificates would")
    s.say("   pass every check: refused, a registry change needs 3 of the 5 governors.")
    s.run("key", "new", "fake-bw", "--dir", str(s.keys), show=False)
    fake = ["--pub", s.pub("fake-bw"), "--name", "BW KP Authority 2", "--role", "authority",
            "--country", "BW"]  # fmt: skip
    s.run("participant", "add", "--key", s.key("operator"), *fake, expect_fail=True)
    s.say("   Nor can one governor, even with the operator's co-signature:")
    s.run(
        "participant",
        "add",
        "--key",
        s.key("gov-chair"),
        "--cosign",
        s.key("operator"),
        *fake,
        expect_fail=True,
    )
    s.run("governance", "show")

    s.heading("12. The Kimberley Process at work: suspensions, bounded and honest certificates")
    s.say("a) Guaniamo (Venezuela) mines a parcel and its authority certifies the export...")
    s.run(
        "origin",
        "--key",
        s.key("guaniamo"),
        "--parcel",
        "GUA-2026-0001",
        "--carats",
        "210.00",
        "--stones",
        "700",
        "--mine",
        "Guaniamo alluvial",
    )
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key("kp-ve"),
        "--number",
        "VE-2026-000031",
        "--parcels",
        "GUA-2026-0001",
        "--exporter",
        "Guaniamo Mine",
        "--importer",
        "Antwerp Rough",
        "--value-usd",
        "19950",
        "--expires",
        expires,
    )
    s.say("... then the KP suspends Venezuela, from today. The KP Chair proposes it offline,")
    s.say("two more governors co-sign the file, and it takes effect when submitted:")
    suspension = str(path / "ve-suspension.kpe")
    s.run(
        "kp-status",
        "set",
        "--key",
        s.key("gov-chair"),
        "--country",
        "VE",
        "--status",
        "suspended",
        "--from",
        dt.date.today().isoformat(),
        "--out",
        suspension,
    )
    s.run("governance", "show", suspension)
    s.run("governance", "sign", suspension, "--key", s.key("gov-consumers"))
    s.run("governance", "sign", suspension, "--key", s.key("operator"), expect_fail=True)
    s.run("governance", "sign", suspension, "--key", s.key("gov-civil"))
    s.run("governance", "show", suspension)
    s.run("governance", "submit", suspension)
    s.say("The older certificate does not help:")
    s.run(
        "transfer",
        "--key",
        s.key("guaniamo"),
        "--parcels",
        "GUA-2026-0001",
        "--to",
        "Antwerp Rough",
        "--certificate",
        "VE-2026-000031",
        expect_fail=True,
    )
    s.say("b) A certificate valid for a year, longer than the ledger allows (60 days here):")
    s.run("param", "list")
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key("kp-be"),
        "--number",
        "BE-2026-118099",
        "--parcels",
        "ANT-JW-B",
        "--exporter",
        "Antwerp Rough",
        "--importer",
        "Dubai Hub",
        "--value-usd",
        "90000",
        "--expires",
        (dt.date.today() + dt.timedelta(days=365)).isoformat(),
        expect_fail=True,
    )
    s.say("c) An authority certifying an export it makes itself:")
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key("kp-be"),
        "--number",
        "BE-2026-118100",
        "--parcels",
        "ANT-JW-B",
        "--exporter",
        "BE Diamond Office",
        "--importer",
        "Dubai Hub",
        "--value-usd",
        "90000",
        "--expires",
        expires,
        expect_fail=True,
    )

    s.heading("13. A verifier replays the whole chain")
    s.run("verify")

    s.heading("14. The operator publishes a signed checkpoint; the retailer makes proofs")
    s.run("checkpoint", "--key", s.key("operator"))
    vkey = s.run("key", "vkey", s.pub("operator"), "--name", ORIGIN)
    (path / "operator.vkey").write_text(vkey + "\n")
    s.say("The operator attests each bundle shows the stone's latest state (a node does it too):")
    s.run("prove", "ST-0001", "-o", str(path / "ST-0001.kpproof"), "--key", s.key("operator"))
    s.run("prove", "ST-0002", "-o", str(path / "ST-0002.kpproof"), "--key", s.key("operator"))

    s.heading("15. A buyer verifies offline with only the operator's verifier key")
    s.run(
        "verify-proof",
        str(path / "ST-0001.kpproof"),
        "--trust",
        str(path / "operator.vkey"),
        "--deny-origin",
        "RU",
        "--require-latest",
    )
    s.say("The buyer can also read it as one self-contained web page (journey, certificates,")
    s.say("origin, yield, warnings, and a QR code of the bundle's SHA-256 to re-check it):")
    s.run(
        "report",
        "ST-0001",
        "-o",
        str(path / "ST-0001.html"),
        "--bundle",
        str(path / "ST-0001.kpproof"),
        "--trust",
        str(path / "operator.vkey"),
        "--deny-origin",
        "RU",
    )
    s.say("")
    s.say("The second stone descends from a Dubai mix that contained Russian rough:")
    s.run(
        "verify-proof",
        str(path / "ST-0002.kpproof"),
        "--trust",
        str(path / "operator.vkey"),
        "--deny-origin",
        "RU",
        expect_fail=True,
    )

    g7_story(s, g7_policy)

    s.heading("17. A stolen key, found after the fact")
    s.say("Someone copied Antwerp Rough's key. With it they split a parcel and ship part of it")
    s.say("to Dubai. Days later the theft is found: the governors revoke the key as compromised")
    s.say("since the theft. What it signed from then on is void, and so is every descendant:")
    time.sleep(1.1)  # the theft happens after every legitimate entry of Antwerp's
    stolen = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    s.run(
        "split",
        "--key",
        s.key("antwerp"),
        "--parcel",
        "ANT-JW-B",
        "--into",
        "ANT-JW-B1:400.00,ANT-JW-B2:449.50",
    )
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key("kp-be"),
        "--number",
        "BE-2026-118101",
        "--parcels",
        "ANT-JW-B1",
        "--exporter",
        "Antwerp Rough",
        "--importer",
        "Dubai Hub",
        "--value-usd",
        "42000",
        "--expires",
        expires,
        show=False,
    )
    tid = s.run(
        "transfer",
        "--key",
        s.key("antwerp"),
        "--parcels",
        "ANT-JW-B1",
        "--to",
        "Dubai Hub",
        "--certificate",
        "BE-2026-118101",
    )
    s.run("accept", "--key", s.key("dubai"), tid[:12])
    s.run(
        "participant",
        "revoke",
        *s.governed(),
        "Antwerp Rough",
        "--reason",
        "signing key copied",
        "--compromised-since",
        stolen,
    )
    s.run("verify")
    s.run("trace", "ANT-JW-B1")
    s.say("A proof of the stolen goods fails for every buyer, whatever their policy:")
    s.run("checkpoint", "--key", s.key("operator"), show=False)
    for item in ("ANT-JW-B1", "ST-0001"):
        bundle = str(path / f"{item}-after-theft.kpproof")
        s.run("prove", item, "-o", bundle, "--key", s.key("operator"), show=False)
        if item == "ST-0001":
            s.say("ST-0001 went through Antwerp before the theft: its proof still verifies.")
        s.run(
            "--quiet" if item == "ST-0001" else "--json",
            "verify-proof",
            bundle,
            "--trust",
            str(path / "operator.vkey"),
            expect_fail=item != "ST-0001",
            show=item == "ST-0001",
        )

    elapsed = time.monotonic() - started
    s.heading("Done")
    if s.failures:
        raise click.ClickException(f"{s.failures} demo step(s) behaved unexpectedly")
    s.say(
        f"The story ran in {elapsed:.1f} s. Ledger: {s.db}; explore it with "
        f"'sqlite-utils tables {s.db}' or 'kpledger --ledger {s.db} log'."
    )


def write_g7_policy(s: Story) -> str:
    """Write the buyer's G7 policy file: the eu-russia pack, and the demo's witness.

    Its cut-off for grandfathering is tomorrow: the story's ledger begins today, so
    tomorrow stands in for a legal date such as 2024-03-01.
    """
    vkey = s.run("witness", "vkey", s.pub("witness"), "--name", WITNESS, show=False).strip()
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    policy = s.dir / "g7.policy"
    policy.write_text(
        f"witness {WITNESS} {vkey}\nquorum none\npack eu-russia\ngrandfather-before {tomorrow}\n"
    )
    return str(policy)


def ship(
    s: Story,
    auth: str,
    number: str,
    parcel: str,
    sender: str,
    receiver: str,
    value: str,
    *,
    show: bool = True,
    show_confirm: bool = False,
) -> None:
    """Move ``parcel`` across a border from ``sender`` to ``receiver`` (keys of PARTIES):
    the exporting authority ``auth`` issues KP certificate ``number`` declaring ``value``
    dollars, the sender offers, the receiver accepts, and the importing authority
    (CONFIRMS) confirms receipt."""
    exporter, importer = (next(p[1] for p in PARTIES if p[0] == k) for k in (sender, receiver))
    s.run(
        "certificate",
        "issue",
        "--key",
        s.key(auth),
        "--number",
        number,
        "--parcels",
        parcel,
        "--exporter",
        exporter,
        "--importer",
        importer,
        "--value-usd",
        value,
        "--expires",
        (dt.date.today() + dt.timedelta(days=45)).isoformat(),
        show=show,
    )
    tid = s.run(
        "transfer",
        "--key",
        s.key(sender),
        "--parcels",
        parcel,
        "--to",
        importer,
        "--certificate",
        number,
        "--warranty",
        show=show,
    )
    s.run("accept", "--key", s.key(receiver), tid[:12], show=show)
    s.run("certificate", "confirm", number, "--key", s.key(CONFIRMS[number]), show=show_confirm)


def g7_story(s: Story, g7_policy: str) -> None:
    """Tell the G7/EU story: transit through Russia, grandfathering, grown goods."""
    vkey = str(s.dir / "operator.vkey")
    s.heading("16. The G7/EU rules on Russian diamonds")
    s.say("a) Botswana rough sold to a Moscow trader, re-exported through Dubai, cut in Surat.")
    s.run(
        "origin",
        "--key",
        s.key("jwaneng"),
        "--parcel",
        "JW-2026-0002",
        "--carats",
        "2.60",
        "--stones",
        "1",
        "--mine",
        "Jwaneng pit 3",
    )
    ship(s, "kp-bw", "BW-2026-000131", "JW-2026-0002", "jwaneng", "moscow", "410")
    ship(s, "kp-ru", "RU-2026-031990", "JW-2026-0002", "moscow", "dubai", "410", show=False)
    ship(s, "kp-ae", "AE-2026-552377", "JW-2026-0002", "dubai", "surat", "410", show=False)
    s.say("   (two more crossings, Moscow -> Dubai -> Surat, each certified and confirmed)")
    s.run("cut", "--key", s.key("surat"), "--parcels", "JW-2026-0002", "--into", "ST-0003:1.10")
    s.run("checkpoint", "--key", s.key("operator"), show=False)
    bundle = str(s.dir / "ST-0003.kpproof")
    s.run("prove", "ST-0003", "-o", bundle, "--key", s.key("operator"), show=False)
    s.say("Mined in Botswana, so a mining-origin check lets it through ...")
    s.verdict("verify-proof", bundle, "--trust", vkey, "--deny-origin", "RU")
    s.say("... but the EU's ban covers diamonds that passed through Russia (R-SA-2):")
    s.verdict("verify-proof", bundle, "--trust", vkey, "--policy", "eu-russia", expect_fail=True)

    s.say("b) Grandfathering rests on time nobody can back-date: a witness cosigns a")
    s.say("   checkpoint, and its cosignature proves the log had those records by then.")
    checkpoint = s.dir / "checkpoint.txt"
    checkpoint.write_text(s.run("checkpoint", "--key", s.key("operator"), show=False) + "\n")
    cosigned = s.dir / "checkpoint-cosigned.txt"
    cosigned.write_text(
        s.run(
            "witness",
            "cosign",
            "--key",
            s.key("witness"),
            "--state",
            str(s.dir / "witness-state.json"),
            "--trust",
            vkey,
            "--name",
            WITNESS,
            str(checkpoint),
        )
        + "\n"
    )
    witness_vkey = ("--vkey", Path(g7_policy).read_text().split()[2]) if s.node is None else ()
    s.say("The ledger keeps the cosignature beside its checkpoint:")
    s.run("witness", "submit", str(cosigned), *witness_vkey)
    s.say("ST-0002 holds Mir rough: the eu-russia pack alone refuses it ...")
    bundle = str(s.dir / "ST-0002-g7.kpproof")
    s.run("prove", "ST-0002", "-o", bundle, "--key", s.key("operator"), show=False)
    s.verdict("verify-proof", bundle, "--trust", vkey, "--policy", "eu-russia", expect_fail=True)
    s.say(f"... a policy with a cut-off ({Path(g7_policy).name}) exempts it: the witness saw")
    s.say("   the rough outside Russia before the cut-off.")
    s.verdict("verify-proof", bundle, "--trust", vkey, "--policy", g7_policy)

    s.say("c) Laboratory-grown rough can never join a natural parcel (R-SW-3):")
    s.run(
        "grow",
        "--key",
        s.key("grower"),
        "--parcel",
        "LG-2026-0001",
        "--carats",
        "300.00",
        "--stones",
        "900",
        "--facility",
        "CVD hall 2",
    )
    tid = s.run(
        "transfer", "--key", s.key("grower"), "--parcels", "LG-2026-0001", "--to", "Surat Cutting"
    )
    s.run("accept", "--key", s.key("surat"), tid[:12], show=False)
    s.run(
        "merge",
        "--key",
        s.key("surat"),
        "--parcels",
        "LG-2026-0001,SUR-B-REST",
        "--into",
        "SUR-MIX-9",
        expect_fail=True,
    )


def start_node_process(
    db: str, key_file: str, policy: str | None = None
) -> tuple[str, Callable[[], None]]:
    """Start ``kpledger --ledger DB serve`` on a free local port in a child process.

    Returns the node's URL (once it answers) and a function that stops it. The key's
    passphrase comes from ``KPLEDGER_PASSPHRASE`` (inherited); ``policy`` names the
    witnesses whose cosignatures the node keeps.

    Raises:
        StoreError: the node did not start.
    """
    import httpx

    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
        [
            sys.executable,
            "-c",
            "from cli.app import run; run()",
            "--ledger",
            db,
            "serve",
            "--key",
            key_file,
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "0",
            *(("--policy", policy) if policy else ()),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung node
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    line = proc.stderr.readline() if proc.stderr is not None else ""
    found = re.search(r"http://[0-9.]+:[0-9]+", line)
    deadline = time.monotonic() + 30
    while found is not None and proc.poll() is None and time.monotonic() < deadline:
        try:
            httpx.get(found.group(0) + "/api/info", timeout=2)
            return found.group(0), stop
        except httpx.HTTPError:
            time.sleep(0.05)
    stop()
    raise lg.StoreError(f"the node did not start: {line.strip()}")


COMMANDS: tuple[click.Command, ...] = (demo,)
