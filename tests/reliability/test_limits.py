"""Size limits: oversized inputs are refused with a typed error *before* they are parsed.

Each decoder checks the size first (specs/encoding.md §5, specs/proof-bundle.md §2,
specs/checkpoint.md, specs/keys.md): an entry above 60,000 bytes, a record above 65,535,
an encoded object above 1 MiB, a bundle above 16 MiB, a note above 1 MiB, a key file above
4 KiB, a vkey above 1 KiB. "Before parsing" is checked two ways: the parser underneath
(``msgpack.unpackb``, the module's ``decode``, the note's line parser) is replaced by a
tripwire that fails the test if it is called, and the refusal of a huge input must take
well under the time parsing would (``FAST``). Just below each limit the parser *is*
reached (so the tripwire is live and the boundary is where the spec says).

The CLI's ``submit`` with an oversized or hostile entry file gives one error line, exit
status 1 and an unchanged ledger, and a huge file is not read into memory by ``submit``
or ``verify-proof`` (``test_huge_files_are_not_read_into_memory``: both used to load the
whole file before any size check).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from click.testing import CliRunner

from cli.app import main as cli_main
from ledger.core import encoding, keys, model, note, proofs
from ledger.core.model import MAX_ENTRY_SIZE, MAX_RECORD_SIZE, Record, SignedEntry
from ledger.errors import (
    EncodingError,
    KeyFileError,
    LedgerError,
    LimitError,
    ProofError,
)
from ledger.ledger import Ledger
from ledger.storage import keyfile
from ledger.storage.entryfile import read_entry_file
from tests.conftest import World
from tests.reliability.conftest import Scene, fingerprint

#: Refusing an oversized input may take at most this long (parsing it would take far more).
FAST = 0.05
MIB = 1 << 20


class TripwireError(BaseException):
    """Raised by a parser that must not run (a BaseException: no `except Exception` hides it)."""


def _trip(*_: Any, **__: Any) -> Any:
    raise TripwireError("the parser was called")


@pytest.fixture
def tripwires(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every msgpack and note parser below the size checks raises TripwireError."""
    monkeypatch.setattr(msgpack, "unpackb", _trip)
    for module in (model, proofs, keys):
        monkeypatch.setattr(module, "decode", _trip)
    monkeypatch.setattr(note, "_parse_sigline", _trip)
    monkeypatch.setattr(note, "_b64decode", _trip)
    monkeypatch.setattr(keys.base64, "b64decode", _trip)
    yield


def refused(
    fn: Callable[..., Any], data: Any, error: type[LedgerError], *words: str, **kw: Any
) -> str:
    start = time.perf_counter()
    with pytest.raises(error) as info:
        fn(data, **kw)
    elapsed = time.perf_counter() - start
    assert elapsed < FAST, f"{fn.__qualname__} took {elapsed:.3f} s to refuse {len(data)} bytes"
    message = info.value.message
    assert all(w in message for w in words), message
    return message


# --- entries and records -------------------------------------------------------------------


@pytest.mark.parametrize("size", [MAX_ENTRY_SIZE + 1, 10 * MIB])
def test_oversized_entry(tripwires: None, size: int) -> None:
    message = refused(SignedEntry.from_wire, b"\x80" * size, LimitError, str(MAX_ENTRY_SIZE))
    assert str(size) in message


@pytest.mark.parametrize("size", [MAX_RECORD_SIZE + 1, 10 * MIB])
def test_oversized_record(tripwires: None, size: int) -> None:
    refused(Record.from_wire, b"\x80" * size, LimitError, str(MAX_RECORD_SIZE))


@pytest.mark.parametrize("size", [encoding.MAX_ENCODED_SIZE + 1, 20 * MIB])
def test_oversized_encoded_object(tripwires: None, size: int) -> None:
    refused(encoding.decode, b"\x80" * size, LimitError, "limit")


def test_the_limits_are_exact(tripwires: None) -> None:
    """At the limit itself the size check passes and the parser is reached."""
    with pytest.raises(TripwireError):
        SignedEntry.from_wire(b"\x80" * MAX_ENTRY_SIZE)
    with pytest.raises(TripwireError):
        Record.from_wire(b"\x80" * MAX_RECORD_SIZE)
    with pytest.raises(TripwireError):
        encoding.decode(b"\x80" * encoding.MAX_ENCODED_SIZE)
    with pytest.raises(TripwireError):
        proofs.Bundle.decode(b"\x80" * proofs.MAX_BUNDLE_SIZE)


def test_oversized_entry_cannot_be_signed_or_appended(world: World) -> None:
    before = fingerprint(world.ledger)
    fields = {"parcel": "BIG", "carats": 1, "stones": 1, "mine": "x" * 70_000, "hs": "7102.10"}
    with pytest.raises(LimitError):
        world.sign("origin", fields, "Jwaneng")
    assert fingerprint(world.ledger) == before


def test_oversized_record_in_the_file_is_named_by_verify(world: World) -> None:
    """A record above the limit written into the file behind the ledger's back."""
    size = world.ledger.size()
    prev = world.ledger.store.record(size - 1).hash
    big = Record.build(size, prev, world.now, b"\x00" * (MAX_RECORD_SIZE + 10))
    world.ledger.store.conn.execute(
        "INSERT INTO records (idx, id, hash, time, type, record, json) VALUES (?,?,?,?,?,?,?)",
        (size, b"\x01" * 32, big.hash, world.now, "origin", big.raw, "{}"),
    )
    with pytest.raises(EncodingError) as info:
        world.ledger.verify()
    assert info.value.rule == "R-EN-1" and f"record {size}" in info.value.message
    assert isinstance(info.value, LimitError)


# --- bundles --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [proofs.MAX_BUNDLE_SIZE + 1, 64 * MIB])
def test_oversized_bundle(tripwires: None, size: int, bundle_scene: Scene) -> None:
    data = b"\x80" * size
    refused(proofs.Bundle.decode, data, ProofError, "limit", str(proofs.MAX_BUNDLE_SIZE))
    refused(proofs.verify_bundle, data, ProofError, "limit", verifier=bundle_scene.verifier)


def test_bundle_with_too_many_records() -> None:
    record = {"index": 0, "record": b"", "proof": []}
    data = encoding.encode(
        {
            "v": proofs.BUNDLE_VERSION,
            "type": proofs.BUNDLE_TYPE,
            "origin": "o",
            "item": "i",
            "checkpoint": "c",
            "records": [record] * (proofs.MAX_BUNDLE_RECORDS + 1),
            "map": [],
        }
    )
    assert len(data) < proofs.MAX_BUNDLE_SIZE
    with pytest.raises(ProofError) as info:
        proofs.Bundle.decode(data)
    assert "records" in info.value.message


def test_bundle_record_above_the_record_limit(bundle_scene: Scene) -> None:
    """A record inside a bundle is size-checked too (before its inclusion is trusted)."""
    from dataclasses import replace

    big = proofs.BundleRecord(99, b"\x00" * (MAX_RECORD_SIZE + 1), ())
    data = replace(bundle_scene.decoded, records=(*bundle_scene.decoded.records, big)).encode()
    with pytest.raises(ProofError):
        proofs.verify_bundle(data, bundle_scene.verifier)


# --- notes, checkpoints, vkeys -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "ascii text", "multibyte text"])
def test_oversized_note(tripwires: None, kind: str, bundle_scene: Scene) -> None:
    n = note.MAX_NOTE_SIZE
    data: str | bytes = {
        "bytes": b"a\n\n" + b"x" * n,
        "ascii text": "a\n\n" + "x" * n,
        "multibyte text": "a\n\n" + "\u00e9" * (n // 2 + 1),  # under n characters, over n bytes
    }[kind]
    refused(note.parse_note, data, ProofError, "larger than")
    refused(note.open_checkpoint, data, ProofError, "larger than", verifier=bundle_scene.verifier)
    refused(note.parse_checkpoint, data, ProofError, "larger than")


def test_oversized_vkey() -> None:
    refused(note.parse_vkey, "a+" + "0" * 8 + "+" + "A" * 2000, KeyFileError, "at most")


# --- key files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [keys.MAX_KEY_FILE + 1, 8 * MIB])
def test_oversized_key_file(tripwires: None, size: int) -> None:
    body = keys.PRIVATE_MAGIC + b"A" * (size - len(keys.PRIVATE_MAGIC) - 1) + b"\n"
    refused(keys.decode_private, body, KeyFileError, str(size), passphrase="pw")
    refused(keys.is_encrypted, body, KeyFileError, str(size))
    refused(keys.decode_public, b"kpledger-public-key-v1 n " + b"A" * size, KeyFileError, "large")


def test_huge_key_files_on_disk_are_read_only_in_part(tmp_path: Path) -> None:
    """keyfile reads at most 64 KiB, so a 1 GiB (sparse) key file costs nothing."""
    for name in ("huge.key", "huge.pub"):
        path = tmp_path / name
        with open(path, "wb") as fh:
            fh.write(keys.PRIVATE_MAGIC if name.endswith(".key") else b"kpledger-public-key-v1 ")
            fh.truncate(1 << 30)
        path.chmod(0o600)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(KeyFileError):
            keyfile.load_private(tmp_path / "huge.key", lambda: "pw")
        with pytest.raises(KeyFileError):
            keyfile.load_public(tmp_path / "huge.pub")
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < FAST and peak < MIB


# --- submit (entry files) ------------------------------------------------------------------


def frame(entry: bytes, n: int | None = None) -> bytes:
    return (len(entry) if n is None else n).to_bytes(4, "big") + entry


def test_oversized_frame_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SignedEntry, "from_wire", _trip)
    path = tmp_path / "big.kpe"
    path.write_bytes(frame(b"\x80" * (MAX_ENTRY_SIZE + 1)))
    refused(read_entry_file, str(path), EncodingError, "oversized")
    path.write_bytes(frame(b"", n=0xFFFFFFFF))  # claims 4 GiB
    refused(read_entry_file, str(path), EncodingError, "oversized")


@pytest.mark.parametrize(
    "case", ["oversized frame", "frame claims 4 GiB", "garbage", "one good then junk", "empty"]
)
def test_submit_of_a_hostile_file_is_one_error_and_changes_nothing(
    world: World, tmp_path: Path, case: str
) -> None:
    good = world.sign(
        "origin",
        {"parcel": "SUB-1", "carats": 10, "stones": 1, "mine": "Pit", "hs": "7102.10"},
        "Jwaneng",
    ).raw
    data = {
        "oversized frame": frame(b"\x80" * (MAX_ENTRY_SIZE + 1)),
        "frame claims 4 GiB": frame(good, n=0xFFFFFFFF),
        "garbage": b"\xff" * 5_000_000,
        "one good then junk": frame(good) + b"\x00\x00\x01",
        "empty": b"",
    }[case]
    path = tmp_path / "hostile.kpe"
    path.write_bytes(data)
    path_db = world.ledger.store.path
    before = fingerprint(world.ledger)
    world.close()
    result = CliRunner().invoke(cli_main, ["--ledger", path_db, "submit", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    world.ledger = Ledger.open(path_db)
    assert fingerprint(world.ledger) == before


@pytest.mark.parametrize("command", ["submit", "verify-proof"])
def test_huge_files_are_not_read_into_memory(
    tmp_path: Path, command: str, bundle_scene: Scene
) -> None:
    path = tmp_path / "huge.bin"
    with open(path, "wb") as fh:
        fh.truncate(128 * MIB)  # sparse: no disk space used
    args = {
        "submit": ["--ledger", str(tmp_path / "none.kpl"), "submit", str(path)],
        "verify-proof": ["verify-proof", str(path), "--trust", bundle_scene.verifier.vkey()],
    }[command]
    if command == "submit":
        World.create(tmp_path / "none.kpl").close()
    tracemalloc.start()
    try:
        result = CliRunner().invoke(cli_main, args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 1, result.output
    assert peak < 32 * MIB, f"{command} allocated {peak >> 20} MiB for a 128 MiB file"
