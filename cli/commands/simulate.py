"""``kpledger simulate``: fill a new ledger with a realistic, reproducible supply chain.

The ledger work is the simulator's (``ledger.sim.simulate``: the world, the flows, the
injected faults and the summary lines); this module only parses options, draws the
progress bar, optionally replays the new ledger with ``verify`` and prints the summary.
It never writes to an existing ledger.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

import ledger as lg
from cli.context import MAX_INDEX, Ctx, FiniteRange, pass_ctx
from cli.render import b64, echo_json
from ledger.sim import FAULT_KINDS, KNOWN_GAPS, SimReport, iter_lines, simulation_keys
from ledger.sim import simulate as run_simulation

#: The most lots one run simulates: about 30 million entries, many hours of work.
MAX_PARCELS = 1_000_000


@click.command()
@click.option(
    "--parcels",
    required=True,
    type=click.IntRange(1, MAX_PARCELS),
    help="Number of mine production lots to simulate (about 30 entries each).",
)
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=click.IntRange(-MAX_INDEX - 1, MAX_INDEX),
    help="Random seed (same seed, same ledger).",
)
@click.option(
    "--faults",
    default=0.0,
    show_default=True,
    type=FiniteRange(0.0, 1.0),
    help="Per-step rate of injected frauds (each refused by the ledger or failed by policy).",
)
@click.option(
    "--fault-kind",
    "fault_kinds",
    multiple=True,
    type=click.Choice(list(FAULT_KINDS)),
    help="Only inject these kinds (repeatable). Default: all"
    + (f" but {', '.join(KNOWN_GAPS)} (known gaps)." if KNOWN_GAPS else "."),
)
@click.option("--verify", "then_verify", is_flag=True, help="Replay the new ledger afterwards.")
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False),
    help="Write the operator's and the governors' keys here (default: LEDGER-keys beside "
    "the ledger), sealed with KPLEDGER_PASSPHRASE if it is set.",
)
@click.option(
    "--participant-keys",
    is_flag=True,
    help="Also write every participant's key (as first registered).",
)
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Most entries per append transaction.",
)
@pass_ctx
def simulate(
    ctx: Ctx,
    parcels: int,
    seed: int,
    faults: float,
    fault_kinds: tuple[str, ...],
    then_verify: bool,
    keys_dir: str | None,
    participant_keys: bool,
    batch: int,
) -> None:
    """Simulate a realistic supply chain into a NEW ledger (--ledger; never overwritten).

    Mines register production lots, which are sorted into boxes, exported under KP
    certificates, traded through Antwerp, Dubai, Ramat Gan and Hong Kong (with re-sorting
    splits and mixed-origin merges), cut in India, graded and sold in the US; now and then
    a producer grows laboratory-grown rough, cut and sold apart from natural goods. The
    same seed always gives the same ledger, byte for byte. With --faults, frauds are
    attempted: invalid operations (double spends, mass inflation, forged or re-used
    certificates, revoked keys, suspended origins, rough without a certificate, rogue
    sanctions designations, laboratory-grown goods mixed into natural ones, broken
    warranty chains) must be refused by the ledger; frauds the ledger rightly accepts
    (rough re-exported through Russia, goods of a sanctioned party) are proven at the end
    and must fail the buyer's policy (eu-russia, the EU list). If an invalid operation is
    accepted, or such a fraud passes its policy, the command exits 1.

    The run ends with a signed checkpoint, and the operator's and governors' keys are
    written beside the ledger (--keys), so checkpoint, prove, publish, serve and the
    registry commands work on the new ledger at once. Simulated keys derive from the
    seed: they are for trying things out, never for a real ledger.

    \b
    Example:
      kpledger --ledger sim.db simulate --parcels 1000 --seed 7 --faults 0.05 --verify
      kpledger --ledger sim.db prove STONE-... -o stone.kpproof   # keys in sim-keys/
      kpledger --ledger sim2.db --json simulate --parcels 100 --seed 7
      kpledger --ledger bd.db simulate --parcels 5 --seed 1 --faults 1 \\
          --fault-kind backdated-origin --fault-kind double-spend
    """
    path = ctx.ledger_path
    if os.path.exists(path):
        raise lg.StoreError(f"{path} already exists; simulate only creates a new ledger")
    keys_dir = keys_dir or f"{os.path.splitext(path)[0]}-keys"
    keys = simulation_keys(seed, participants=participant_keys)
    taken = [k.name for k in keys if os.path.exists(os.path.join(keys_dir, f"{k.name}.key"))]
    if taken:  # checked first: nothing is simulated for keys that cannot be written
        raise lg.KeyFileError(
            f"{keys_dir} already holds {taken[0]}.key; choose another --keys directory"
        )
    options: dict[str, Any] = {"parcels": parcels, "seed": seed, "faults": faults, "batch": batch}
    if fault_kinds:
        options["fault_kinds"] = list(fault_kinds)
    if not ctx.quiet and not ctx.json and sys.stderr.isatty():
        with click.progressbar(length=parcels, label="simulating lots", file=sys.stderr) as bar:
            report = run_simulation(path, progress=bar.update, **options)
    else:
        report = run_simulation(path, **options)
    passphrase = os.environ.get("KPLEDGER_PASSPHRASE")
    for key in keys:
        lg.write_key(keys_dir, key, passphrase)
    written = {"directory": keys_dir, "keys": [k.name for k in keys], "sealed": bool(passphrase)}
    ctx.info(
        f"wrote {len(keys)} keys to {keys_dir}/ (operator.key, governor-N.key"
        + (", participants" if participant_keys else "")
        + ("; sealed with KPLEDGER_PASSPHRASE" if passphrase else "; not encrypted")
        + ")"
    )
    verified: dict[str, Any] | None = None
    if then_verify:
        verified = _verify(ctx, path)
    if ctx.json:
        data = report.to_json()
        data["keys"] = written
        if verified is not None:
            data["verify"] = verified
        echo_json(data)
    else:
        for line in iter_lines(report):
            click.echo(line)
        if verified is not None:
            click.echo(
                f"  verify: ok, {verified['size']} records replayed in {verified['seconds']:.1f} s"
            )
    _fail_if_accepted(report)


def _verify(ctx: Ctx, path: str) -> dict[str, Any]:
    ctx.info("verifying: replaying every record ...")
    started = time.perf_counter()
    ledger = lg.Ledger.open(path)
    try:
        result = ledger.verify()
    finally:
        ledger.close()
    return {
        "ok": True,
        "size": result.size,
        "root": b64(result.root),
        "warnings": dict(sorted(result.warnings.items())),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _fail_if_accepted(report: SimReport) -> None:
    """Invalid operations that got into the ledger, frauds that pass their policy and
    honest goods that fail it are bugs: exit 1 (after the summary)."""
    if report.ok:
        return
    if report.faults_accepted:
        raise lg.LedgerError(
            f"{report.faults_accepted} injected invalid operation(s) were ACCEPTED "
            f"(a rules-engine bug); first: {report.accepted[0]}"
        )
    if report.faults_passed:
        raise lg.LedgerError(
            f"{report.faults_passed} injected fraud(s) PASSED the policy they break "
            f"(a policy bug); first: {report.passed[0]}"
        )
    raise lg.LedgerError(
        f"{len(report.controls_failed)} honest laboratory-grown stone(s) FAILED eu-russia "
        f"(a policy bug); first: {report.controls_failed[0]}"
    )


COMMANDS: tuple[click.Command, ...] = (simulate,)
