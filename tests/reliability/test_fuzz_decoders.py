"""Fuzz every decoder not fuzzed elsewhere: only ``LedgerError`` subclasses may escape.

Targets: ``model.SignedEntry.from_wire``, ``model.Record.from_wire``,
``proofs.Bundle.decode``, ``proofs.verify_bundle``, ``keys.decode_private``,
``keys.decode_public``, the CLI argument parsers of ``cli.parse`` (carats, money, date,
outputs, id_list, positive_int) and the entry-file reader ``read_entry_file`` (``submit``).
(``ledger.encoding.decode`` and the note, checkpoint, vkey and policy parsers are fuzzed in
``tests/property``.)

Inputs are random bytes or text, byte-level mutations of valid inputs (flips, inserts,
deletes, cuts, repeats, splices of two seeds) and structure-aware ones: the valid input
is decoded, a few nodes of the value tree are replaced, deleted, added or renamed (also
inside nested encodings: the entry inside a record, the body inside an entry) and it is
re-encoded canonically, so the mutant gets past the canonical-encoding check into the
shape checks. ``test_fuzz_verify_bundle_resigned`` goes further: it mutates entry bodies,
re-signs them with the right participant keys, rebuilds the chain and Merkle tree and
signs a fresh checkpoint with the operator key, so the mutant gets past the signature and
inclusion checks into the replay, the rules engine and the report.

Each decoder must raise its documented error type (every one a ``LedgerError``), finish
within ``KPLEDGER_FUZZ_DEADLINE_MS`` (hypothesis ``deadline``, default 1000 ms), and
allocate at most ``MEMORY_LIMIT`` bytes (``tracemalloc`` peak); inputs are at most a few
KiB (size limits themselves are in ``test_limits.py``).

``KPLEDGER_FUZZ_EXAMPLES`` sets the number of examples per test (default 200, a few
seconds). When it is set, the tests are also marked ``slow`` (as in
``tests/property/test_note_fuzz.py``), so ``make fuzz``-style runs (``-m slow -k fuzz``)
select them and the default run does not repeat a long campaign.

Regressions pinned here (found by these fuzzers, fixed in the library): the version
checks accepted ``"v": true`` as 1, a second encoding of every entry, record and bundle
(a new entry id for the same signed entry: ``test_version_true_is_refused``,
``test_a_re_encoded_entry_is_not_a_second_entry``); ``cli.parse.positive_int`` raised
``ValueError`` for digits that ``str.isdigit`` accepts but ``int`` does not, such as
``"²"`` (``test_positive_int_superscript_is_a_usage_error``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import parse
from ledger.core import ed25519, keys, merkle, note, proofs, replay, statemap
from ledger.core.encoding import decode, encode
from ledger.core.model import ENTRY_SIG_CONTEXT, ZERO_HASH, Record, SignedEntry
from ledger.errors import (
    EncodingError,
    KeyFileError,
    LedgerError,
    ProofError,
    UsageError,
)
from ledger.storage.entryfile import read_entry_file
from tests.conftest import ORIGIN
from tests.reliability.conftest import Scene

EXAMPLES = int(os.environ.get("KPLEDGER_FUZZ_EXAMPLES", "200"))
DEADLINE_MS = int(os.environ.get("KPLEDGER_FUZZ_DEADLINE_MS", "1000"))
pytestmark = [pytest.mark.slow] if "KPLEDGER_FUZZ_EXAMPLES" in os.environ else []
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(milliseconds=DEADLINE_MS),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)
#: Most a single decoder call may allocate (tracemalloc peak), for inputs of a few KiB.
MEMORY_LIMIT = 16 << 20
PASSPHRASE = "fuzz passphrase"


def _name(fn: Any) -> str:
    fn = getattr(fn, "func", fn)  # functools.partial
    return str(getattr(fn, "__qualname__", fn))


def call(fn: Callable[..., Any], expected: type[LedgerError], *args: Any) -> Any:
    """Call ``fn``: its documented error gives None, any other exception fails the test.

    Also checks the call's peak Python allocation against MEMORY_LIMIT.
    """
    tracemalloc.start()
    try:
        return fn(*args)
    except expected:
        return None
    except LedgerError as exc:
        raise AssertionError(
            f"{_name(fn)} raised {type(exc).__name__} ({exc}); documented: {expected.__name__}"
        ) from exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= MEMORY_LIMIT, f"{_name(fn)} allocated {peak} bytes"


# --- seeds ----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Seeds:
    scene: Scene
    entries: list[bytes]
    records: list[bytes]
    bundles: list[bytes]
    private: list[bytes]
    public: list[bytes]
    entry_files: list[bytes]
    workdir: Path

    def __repr__(self) -> str:  # short: hypothesis prints the test's arguments
        return f"Seeds(<{len(self.entries)} entries, {self.scene!r}>)"


@pytest.fixture(scope="module")
def seeds(bundle_scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeds]:
    records = list(bundle_scene.log)
    entries = [Record.from_wire(r).entry_bytes for r in records]
    kseed = bytes(range(32))
    salt, nonce = bytes(16), bytes(12)
    private = [
        keys.encode_private("Fuzz Mine", kseed, None, salt=salt, nonce=nonce),
        keys.encode_private(
            "Fuzz Mine", kseed, PASSPHRASE, salt=salt, nonce=nonce, n=keys.SCRYPT_MIN_N
        ),
    ]
    public = [keys.encode_public("Fuzz Mine", ed25519.public_key(kseed))]
    frames = [len(e).to_bytes(4, "big") + e for e in entries]
    entry_files = [frames[5], frames[9] + frames[10], b"".join(frames[30:33])]
    yield Seeds(
        bundle_scene,
        entries,
        records,
        [bundle_scene.bundle, bundle_scene.sold_bundle],
        private,
        public,
        entry_files,
        tmp_path_factory.mktemp("fuzz"),
    )


# --- byte-level mutations ---------------------------------------------------------------------

INTERESTING_BYTES = [0x00, 0x01, 0x7F, 0x80, 0x90, 0xA0, 0xC0, 0xC1, 0xC4, 0xCC, 0xCF, 0xD9]
INTERESTING_BYTES += [0xDC, 0xDD, 0xDE, 0xDF, 0xFF]


@st.composite
def mutated_bytes(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut", "repeat", "splice"]))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and at < len(data):
            data[at] = draw(st.sampled_from(INTERESTING_BYTES) | st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "cut":
            del data[at:]
        elif op == "repeat":
            end = min(len(data), at + draw(st.integers(1, 64)))
            data[at:at] = data[at:end] * draw(st.integers(1, 3))
        else:
            other = draw(st.sampled_from(pool))
            i = draw(st.integers(0, len(other)))
            data[at:] = other[i:]
    return bytes(data)


# --- structure-aware mutations ------------------------------------------------------------------

SPECIAL_INTS = [0, 1, -1, 255, 256, 65535, 65536, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
SPECIAL_INTS += [-(2**63), -(2**31)]
FIELD_NAMES = [
    "v", "type", "ledger", "signer", "time", "fields", "body", "sigs", "kid", "sig", "index",
    "prev", "entry", "parcel", "head", "carats", "stones", "inputs", "input", "outputs",
    "output", "to", "transfer", "certificate", "number", "parcels", "origins", "name", "pub",
    "roles", "country", "status", "from", "records", "proof", "item", "checkpoint", "origin",
]  # fmt: skip
ENTRY_TYPES = ["origin", "transfer", "accept", "split", "merge", "cut", "grade", "sell"]
ENTRY_TYPES += ["genesis", "participant.add", "kp-status.set", "certificate.issue", "cancel"]

safe_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SPECIAL_INTS),
    st.integers(-(2**63), 2**64 - 1),
    safe_text,
    st.sampled_from(ENTRY_TYPES + FIELD_NAMES + ["", "x" * 300, "P\x00", "RU", "7102.10"]),
    st.binary(max_size=40),
    st.sampled_from([bytes(32), b"\xff" * 32, bytes(64), bytes(31), bytes(33)]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_text, inner, max_size=4),
    max_leaves=8,
)


def mutate(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """One random edit somewhere in a decoded value tree."""
    descend = depth < 12 and draw(st.integers(0, 3)) > 0
    if isinstance(value, dict) and value:
        keys_ = sorted(value)
        key = draw(st.sampled_from(keys_))
        op = "down" if descend else draw(st.sampled_from(["del", "add", "rename", "replace"]))
        out = dict(value)
        if op == "down":
            out[key] = mutate(draw, value[key], depth + 1)
        elif op == "del":
            del out[key]
        elif op == "add":
            out[draw(st.sampled_from(FIELD_NAMES) | safe_text)] = draw(values)
        elif op == "rename":
            out[draw(st.sampled_from(FIELD_NAMES) | safe_text)] = out.pop(key)
        else:
            return draw(values)
        return out
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        op = "down" if descend else draw(st.sampled_from(["del", "dup", "add", "many", "swap"]))
        out = list(value)
        if op == "down":
            out[i] = mutate(draw, value[i], depth + 1)
        elif op == "del":
            del out[i]
        elif op == "dup":
            out.insert(i, value[i])
        elif op == "add":
            out.append(draw(values))
        elif op == "many":
            out = out * draw(st.integers(2, 40))
        else:
            out[i], out[-1] = out[-1], out[i]
        return out
    if isinstance(value, bytes) and descend:
        try:
            inner = decode(value)
        except LedgerError:
            inner = None
        if isinstance(inner, (dict, list)):
            try:
                return encode(mutate(draw, inner, depth + 1))
            except EncodingError:
                return value
        blob = bytearray(value)
        if blob:
            blob[draw(st.integers(0, len(blob) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(blob)
    if isinstance(value, int) and not isinstance(value, bool) and descend:
        return draw(st.sampled_from([value - 1, value + 1, -value, *SPECIAL_INTS]))
    if isinstance(value, str) and descend:
        return draw(st.sampled_from(["", value + "\x00", value * 2, value[:-1], value.upper()]))
    return draw(values)


@st.composite
def mutated_values(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    raw = draw(st.sampled_from(pool))
    value = decode(raw)
    for _ in range(draw(st.integers(1, 3))):
        value = mutate(draw, value)
    try:
        return encode(value)
    except EncodingError:  # too deep, or an out-of-range integer
        return raw[: draw(st.integers(0, len(raw)))]


def inputs(pool: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=600),
        mutated_bytes(pool),
        mutated_values(pool),
        mutated_values(pool),
    )


# --- the model and bundle decoders ----------------------------------------------------------


@pytest.mark.parametrize("what", ["entry", "body", "record", "bundle"])
def test_version_true_is_refused(seeds: Seeds, what: str) -> None:
    scene = seeds.scene
    record = Record.from_wire(scene.log[30])
    envelope = decode(record.entry_bytes)
    if what == "entry":
        with pytest.raises(EncodingError):
            SignedEntry.from_wire(encode({**envelope, "v": True}))
    elif what == "body":
        body = decode(envelope["body"])
        seed = scene.seeds_by_kid[body["signer"]]
        raw = _envelope(encode({**body, "v": True}), seed, [])
        with pytest.raises(EncodingError):
            SignedEntry.from_wire(raw)
    elif what == "record":
        with pytest.raises(EncodingError):
            Record.from_wire(encode({**decode(record.raw), "v": True}))
    else:
        raw = encode({**decode(scene.bundle), "v": True})
        with pytest.raises(ProofError):
            proofs.verify_bundle(raw, scene.verifier)


def test_a_re_encoded_entry_is_not_a_second_entry(tmp_path: Path) -> None:
    """Nobody can re-encode a signed entry under a new id and append it before its signer."""
    from tests.conftest import World

    world = World.create(tmp_path / "malleable.kpl")
    try:
        fields = {"parcel": "M-1", "carats": 10, "stones": 1, "mine": "Pit", "hs": "7102.10"}
        signed = world.sign("origin", fields, "Jwaneng")
        with pytest.raises(EncodingError):
            SignedEntry.from_wire(encode({**decode(signed.raw), "v": True}))
        assert world.append(signed).entry.id == signed.id
    finally:
        world.close()


@FUZZ
@given(data=st.data())
def test_fuzz_signed_entry_from_wire(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(inputs(seeds.entries), label="entry")
    entry = call(SignedEntry.from_wire, EncodingError, raw)
    if entry is not None:
        assert entry.raw == raw and entry.id == hashlib.sha256(raw).digest()
        assert SignedEntry.build(entry.body_bytes, entry.sigs).raw == raw


@FUZZ
@given(data=st.data())
def test_fuzz_record_from_wire(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(inputs(seeds.records), label="record")
    record = call(Record.from_wire, EncodingError, raw)
    if record is not None:
        rebuilt = Record.build(record.index, record.prev, record.time, record.entry_bytes)
        assert rebuilt.raw == raw
        call(record.entry, EncodingError)


@FUZZ
@given(data=st.data())
def test_fuzz_bundle_decode(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(inputs(seeds.bundles), label="bundle")
    bundle = call(proofs.Bundle.decode, ProofError, raw)
    if bundle is not None:
        assert bundle.encode() == raw


@FUZZ
@given(data=st.data())
def test_fuzz_verify_bundle(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(inputs(seeds.bundles), label="bundle")
    report = call(proofs.verify_bundle, ProofError, raw, seeds.scene.verifier)
    if report is not None:
        # Whatever verifies is a canonical bundle about the item it names.
        bundle = proofs.Bundle.decode(raw)
        assert bundle.encode() == raw and report.item == bundle.item


def _envelope(body: bytes, seed: bytes | None, old: list[dict[str, bytes]]) -> bytes:
    if seed is None:
        sigs = old
    else:
        kid = hashlib.sha256(ed25519.public_key(seed)).digest()
        sigs = [{"kid": kid, "sig": ed25519.sign(seed, ENTRY_SIG_CONTEXT + body)}]
    return encode({"v": 1, "body": body, "sigs": sigs})


@st.composite
def resigned_bundles(draw: st.DrawFn, scene: Scene) -> bytes:
    """A bundle whose records carry mutated but correctly signed and proven entries."""
    entries = [decode(Record.from_wire(r).entry_bytes) for r in scene.log]
    times = [Record.from_wire(r).time for r in scene.log]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(entries) - 1), label="mutated entry")
        env = entries[i]
        body = decode(env["body"])
        where = draw(st.sampled_from(["fields", "fields", "fields", "body"]))
        if where == "fields" and isinstance(body, dict) and "fields" in body:
            body["fields"] = mutate(draw, body["fields"])
        else:
            body = mutate(draw, body)
        try:
            body_bytes = encode(body)
        except EncodingError:
            continue
        signer = body.get("signer") if isinstance(body, dict) else None
        seed = scene.seeds_by_kid.get(signer) if isinstance(signer, bytes) else None
        entries[i] = decode(_envelope(body_bytes, seed, env["sigs"]))
    if draw(st.booleans()):
        i = draw(st.integers(0, len(times) - 1))
        times[i] = draw(st.sampled_from([0, times[i] - 31 * 86_400_000, times[i] + 600_000]))
    records, prev = [], ZERO_HASH
    for index, (env, t) in enumerate(zip(entries, times, strict=True)):
        record = Record.build(index, prev, max(t, 0), encode(env))
        records.append(record)
        prev = record.hash
    reader = merkle.ListHashReader([r.hash for r in records])
    size = len(records)
    root = merkle.tree_root(size, reader)
    state_map = replayed_map(records)
    cp = note.sign_checkpoint(
        note.kpledger_checkpoint(ORIGIN, size, root, state_map.root()), ORIGIN, scene.seed
    )
    wanted = {r.index for r in proofs.Bundle.decode(scene.sold_bundle).records}
    extra = draw(st.sets(st.integers(0, size - 1), max_size=3))
    dropped = draw(st.sets(st.sampled_from(sorted(wanted)), max_size=1))
    chosen = [r for r in records if r.index in (wanted | extra) - dropped]
    if not chosen:
        chosen = records[:1]
    item = draw(st.sampled_from(scene.items) | safe_text)
    try:
        map_proofs = proofs.map_proofs_for(chosen, item, state_map.prove)
    except LedgerError:
        map_proofs = ()
    return proofs.make_bundle(
        ORIGIN, item, cp, size, chosen, reader, map_proofs=map_proofs
    ).encode()


def replayed_map(records: list[Record]) -> statemap.MemoryMap:
    """The state map of ``records`` (of those that replay, for a mutated log)."""
    state_map = statemap.MemoryMap()
    try:
        replay.replay(
            ((r.index, r.raw) for r in records), verify_signatures=False, state_map=state_map
        )
    except LedgerError:
        pass
    return state_map


@FUZZ
@given(data=st.data())
def test_fuzz_verify_bundle_resigned(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(resigned_bundles(seeds.scene), label="bundle")
    report = call(proofs.verify_bundle, ProofError, raw, seeds.scene.verifier)
    if report is not None:
        assert report.item == proofs.Bundle.decode(raw).item
        assert sum(report.composition.values()) in (0, 1_000_000)


def test_resigned_bundle_builder_is_faithful(seeds: Seeds) -> None:
    """Without mutations the rebuilt bundle verifies: the fuzzer starts from a valid bundle."""
    scene = seeds.scene
    records, prev = [], ZERO_HASH
    for index, raw in enumerate(scene.log):
        r = Record.from_wire(raw)
        env = decode(r.entry_bytes)
        body = env["body"]
        seed = scene.seeds_by_kid[decode(body)["signer"]]
        entry = _envelope(body, seed, env["sigs"]) if len(env["sigs"]) == 1 else r.entry_bytes
        record = Record.build(index, prev, r.time, entry)
        assert record.raw == raw  # Ed25519 is deterministic: same signatures, same bytes
        records.append(record)
        prev = record.hash
    reader = merkle.ListHashReader([r.hash for r in records])
    state_map = replayed_map(records)
    cp = note.sign_checkpoint(
        note.kpledger_checkpoint(
            ORIGIN, len(records), merkle.tree_root(len(records), reader), state_map.root()
        ),
        ORIGIN,
        scene.seed,
    )
    wanted = {r.index for r in proofs.Bundle.decode(scene.sold_bundle).records}
    chosen = [r for r in records if r.index in wanted]
    bundle = proofs.make_bundle(
        ORIGIN,
        "STONE-0002",
        cp,
        len(records),
        chosen,
        reader,
        map_proofs=proofs.map_proofs_for(chosen, "STONE-0002", state_map.prove),
    )
    assert proofs.verify_bundle(bundle.encode(), scene.verifier).status == "sold"


# --- key files ---------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_fuzz_decode_private(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(_key_inputs(seeds.private), label="key file")
    passphrase = data.draw(st.sampled_from([None, PASSPHRASE, "wrong"]), label="passphrase")
    key = call(keys.decode_private, KeyFileError, raw, passphrase)
    if key is not None:
        assert key.public == ed25519.public_key(key.seed)
    call(keys.is_encrypted, KeyFileError, raw)


@FUZZ
@given(data=st.data())
def test_fuzz_decode_public(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(_key_inputs(seeds.public) | st.text(max_size=80).map(str.encode))
    got = call(keys.decode_public, KeyFileError, raw)
    if got is not None:
        name, public = got
        assert keys.encode_public(name, public) == raw


@st.composite
def _base64_payload_mutations(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    """Mutate the msgpack header inside a private key file's base64 line, re-encode it."""
    import base64

    raw = draw(st.sampled_from(pool))
    magic = keys.PRIVATE_MAGIC
    if not raw.startswith(magic):
        return raw
    payload = base64.b64decode(raw[len(magic) : -1])
    value = decode(payload)
    for _ in range(draw(st.integers(1, 2))):
        value = mutate(draw, value)
    try:
        body = encode(value)
    except EncodingError:
        return raw
    return magic + base64.b64encode(body) + b"\n"


def _key_inputs(pool: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        mutated_bytes(pool),
        _base64_payload_mutations(pool),
        _base64_payload_mutations(pool),
    )


# --- CLI argument parsers ------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())
ARG_CHARS = st.sampled_from(list("0123456789.,:- +_eE\t\n\x00AUSDPJ")) | ANY_CHAR


@st.composite
def mutated_text(draw: st.DrawFn, pool: list[str]) -> str:
    text = draw(st.sampled_from(pool))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "cut"]))
        if op == "insert":
            text = text[:at] + draw(ARG_CHARS) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + 1 :]
        elif op == "replace":
            text = text[:at] + draw(ARG_CHARS) + text[at + 1 :]
        elif op == "repeat":
            text = text[:at] + text[at:] * draw(st.integers(2, 5))
        else:
            text = text[:at]
    return text


def arg_inputs(pool: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(ANY_CHAR, max_size=40), st.text(ARG_CHARS, max_size=40), mutated_text(pool)
    )


def parse_call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return call(functools.partial(fn, **kw), UsageError, *args)


@FUZZ
@given(arg_inputs(["12.50", "0.01", "999999999.99", "1", "1250"]))
def test_fuzz_parse_carats(text: str) -> None:
    points = parse_call(parse.carats, text, "--carats")
    if points is not None:
        assert isinstance(points, int) and 0 < points < 10**12


@FUZZ
@given(
    arg_inputs(["1250.00", "0", "5", "999999999999999.999"]),
    arg_inputs(["USD", "JPY", "KWD", "usd", "EUR"]),
)
def test_fuzz_parse_money(amount: str, currency: str) -> None:
    m = parse_call(parse.money, amount, currency, "--price")
    if m is not None:
        assert isinstance(m["amount"], int) and 0 <= m["amount"] < 2**63
        encode(m)


@FUZZ
@given(arg_inputs(["2026-03-02", "2024-02-29", "1900-01-01", "9999-12-31"]))
def test_fuzz_parse_date(text: str) -> None:
    value = parse_call(parse.date, text, "--expires")
    if value is not None:
        assert value == text


@FUZZ
@given(arg_inputs(["P1,P2", "JW-1", "A,B,C", "a.b:c/d-e"]))
def test_fuzz_parse_id_list(text: str) -> None:
    items = parse_call(parse.id_list, text, "--parcels")
    if items is not None:
        assert items and len(set(items)) == len(items) and all(items)


@FUZZ
@given(arg_inputs(["A:10.5:40,B:2", "X:1", "P-1:0.01:1,P-2:999999999.99:999999999999"]))
def test_fuzz_parse_outputs(text: str) -> None:
    for stones in (True, False):
        out = parse_call(parse.outputs, text, "--outputs", stones=stones)
        if out is not None:
            assert all(o["carats"] > 0 for o in out)


@FUZZ
@given(arg_inputs(["1", "40", "999999999999"]))
def test_fuzz_parse_positive_int(text: str) -> None:
    n = parse_call(parse.positive_int, text, "--stones")
    if n is not None:
        assert 0 < n < 10**12


@pytest.mark.parametrize("call_", ["positive_int", "outputs"])
def test_positive_int_superscript_is_a_usage_error(call_: str) -> None:
    with pytest.raises(UsageError):
        if call_ == "positive_int":
            parse.positive_int("²", "--stones")
        else:
            parse.outputs("A:1:²", "--outputs")


@pytest.mark.parametrize("call_", ["carats", "money"])
def test_numeric_arguments_take_ascii_digits_only(call_: str) -> None:
    with pytest.raises(UsageError):
        if call_ == "carats":
            parse.carats("\u0661\u0662.\u0665", "--carats")
        else:
            parse.money("\u0661\u0662", "USD", "--price")


# --- the CLI's entry files (submit) -----------------------------------------------------------


@st.composite
def entry_files(draw: st.DrawFn, seeds: Seeds) -> bytes:
    kind = draw(st.sampled_from(["bytes", "mutated", "frames"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "mutated":
        return draw(mutated_bytes(seeds.entry_files))
    out = b""
    for _ in range(draw(st.integers(0, 3))):
        entry = draw(st.sampled_from(seeds.entries) | mutated_values(seeds.entries))
        n = len(entry) + draw(st.sampled_from([0, 0, 0, -1, 1, 60_001, -len(entry) - 1]))
        out += (n % 2**32).to_bytes(4, "big") + entry
    return out + draw(st.sampled_from([b"", b"", b"\x00", b"\x00\x00\x00"]))


@FUZZ
@given(data=st.data())
def test_fuzz_read_entry_file(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(entry_files(seeds), label="file")
    path = seeds.workdir / "fuzz.kpe"
    path.write_bytes(raw)
    entries = call(read_entry_file, LedgerError, str(path))
    if entries is not None:
        assert b"".join(len(e.raw).to_bytes(4, "big") + e.raw for e in entries) == raw


def test_read_entry_file_errors_are_typed(seeds: Seeds) -> None:
    path = seeds.workdir / "typed.kpe"
    with pytest.raises(UsageError):
        read_entry_file(str(seeds.workdir / "missing.kpe"))
    for raw in (b"", b"\x00\x00", b"\x00\x00\x00\x05abc", seeds.entry_files[0][:-1]):
        path.write_bytes(raw)
        with pytest.raises(EncodingError):
            read_entry_file(str(path))
    path.write_bytes(seeds.entry_files[1])
    assert len(read_entry_file(str(path))) == 2
