"""kpledger: an append-only, hash-chained provenance ledger for rough diamonds.

The public API is what this module exports; every other module is an implementation
detail. The library is layered, each layer importing only those below it (the
import-linter contracts in ``pyproject.toml`` enforce it):

* ``ledger.errors``: the one error hierarchy;
* ``ledger.core``: pure (encoding, Ed25519, the wire model, keys, Merkle tree and tiles,
  signed notes, the rules engine, replay, proof bundles, policies, the journey narrator,
  wire framing): no files, SQL, network, clock or randomness;
* ``ledger.storage``: the only modules that touch SQLite and files (store, schema,
  state check, key files, entry files, the trust file);
* this façade (``ledger.api``, ``ledger.ledger``, ``ledger.verify``): one ledger file;
* ``ledger.net`` (node, client, mirror, witness; its own façade) and ``ledger.sim`` (the
  simulator), which use the façade.

The core may run compiled by mypyc (``setup.py``) or as pure Python, with identical results:
``build()`` says which, ``compiled_modules()`` lists the compiled modules, and
``KPLEDGER_PURE=1`` selects pure Python at run time (``ledger._build``).

Names from the I/O layers are imported on first use (PEP 562), so that importing the pure
core (a buyer's offline verifier) never loads SQLite tooling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# First of the ledger modules: with KPLEDGER_PURE=1 it makes the others load from source.
from ledger._build import build, compiled_modules
from ledger.core.disclosure import Disclosed, Opening, fields_named
from ledger.core.disclosure import commitments as entry_commitments
from ledger.core.journey import Step
from ledger.core.keys import PrivateKey
from ledger.core.model import ROLES, Record, SignedEntry, check_date, entry_to_json, key_id
from ledger.core.note import (
    SIG_TYPE_COSIGNATURE_V1,
    SIG_TYPE_ED25519,
    Checkpoint,
    Verifier,
    format_vkey,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
    parse_vkey,
)
from ledger.core.note import add_signature as add_note_signature
from ledger.core.policy import Policy, named_policy, parse_policy
from ledger.core.proofs import (
    MAX_BUNDLE_SIZE,
    Bundle,
    BundleReport,
    Failure,
    add_disclosures,
    bundle_commitments,
    bundle_digest,
    inspect_bundle,
    verify_bundle,
)
from ledger.core.rules import (
    MAX_THRESHOLD,
    PARAMETERS,
    PROPOSAL_TTL_MS,
    REGISTRY_TYPES,
    VoidEntry,
    date_of,
    format_composition,
    void_to_json,
)
from ledger.core.sanctions import PACKS
from ledger.errors import (
    ChainError,
    EncodingError,
    ForkError,
    KeyFileError,
    LedgerError,
    LimitError,
    NotFoundError,
    PolicyError,
    ProofError,
    ReadOnlyError,
    RuleError,
    SignatureError,
    StoreError,
    UsageError,
    WitnessError,
)

if TYPE_CHECKING:
    from ledger.api import (
        LedgerAPI,
        Trace,
        VerifyReport,
        append_entries,
        entries_from_epcis,
        export_epcis,
        latest_failure,
        proposal_status,
        verify_consistency,
    )
    from ledger.ledger import Ledger
    from ledger.storage.entryfile import read_entry_file, write_entry_file
    from ledger.storage.keyfile import (
        load_private,
        load_public,
        load_public_part,
        read_passphrase_fd,
        read_passphrase_file,
        write_key,
        write_keypair,
    )
    from ledger.storage.migrate import migrate_ledger
    from ledger.storage.openings import OpeningStore
    from ledger.storage.store import Appended
    from ledger.storage.trustfile import add_pin, normalise_url, read_pins, remove_pin

#: Names from the I/O layers, imported on first use.
_LAZY = {
    "LedgerAPI": "ledger.api",
    "Trace": "ledger.api",
    "VerifyReport": "ledger.api",
    "append_entries": "ledger.api",
    "export_epcis": "ledger.api",
    "entries_from_epcis": "ledger.api",
    "latest_failure": "ledger.api",
    "proposal_status": "ledger.api",
    "verify_consistency": "ledger.api",
    "Ledger": "ledger.ledger",
    "Appended": "ledger.storage.store",
    "OpeningStore": "ledger.storage.openings",
    "load_private": "ledger.storage.keyfile",
    "load_public": "ledger.storage.keyfile",
    "load_public_part": "ledger.storage.keyfile",
    "read_passphrase_fd": "ledger.storage.keyfile",
    "read_passphrase_file": "ledger.storage.keyfile",
    "write_key": "ledger.storage.keyfile",
    "write_keypair": "ledger.storage.keyfile",
    "read_entry_file": "ledger.storage.entryfile",
    "add_pin": "ledger.storage.trustfile",
    "normalise_url": "ledger.storage.trustfile",
    "read_pins": "ledger.storage.trustfile",
    "remove_pin": "ledger.storage.trustfile",
    "write_entry_file": "ledger.storage.entryfile",
    "migrate_ledger": "ledger.storage.migrate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__version__ = "0.1.0"

__all__ = [
    "MAX_BUNDLE_SIZE",
    "MAX_THRESHOLD",
    "PACKS",
    "PARAMETERS",
    "PROPOSAL_TTL_MS",
    "REGISTRY_TYPES",
    "ROLES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "Appended",
    "Bundle",
    "BundleReport",
    "ChainError",
    "Checkpoint",
    "Disclosed",
    "EncodingError",
    "Failure",
    "ForkError",
    "KeyFileError",
    "Ledger",
    "LedgerAPI",
    "LedgerError",
    "LimitError",
    "NotFoundError",
    "Opening",
    "OpeningStore",
    "Policy",
    "PolicyError",
    "PrivateKey",
    "ProofError",
    "ReadOnlyError",
    "Record",
    "RuleError",
    "SignatureError",
    "SignedEntry",
    "Step",
    "StoreError",
    "Trace",
    "UsageError",
    "Verifier",
    "VerifyReport",
    "VoidEntry",
    "WitnessError",
    "__version__",
    "add_disclosures",
    "add_note_signature",
    "add_pin",
    "append_entries",
    "build",
    "bundle_commitments",
    "bundle_digest",
    "check_date",
    "compiled_modules",
    "date_of",
    "entries_from_epcis",
    "entry_commitments",
    "entry_to_json",
    "export_epcis",
    "fields_named",
    "format_composition",
    "format_vkey",
    "inspect_bundle",
    "key_id",
    "latest_failure",
    "load_private",
    "load_public",
    "load_public_part",
    "migrate_ledger",
    "named_policy",
    "normalise_url",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_note",
    "parse_policy",
    "parse_vkey",
    "proposal_status",
    "read_entry_file",
    "read_passphrase_fd",
    "read_passphrase_file",
    "read_pins",
    "remove_pin",
    "verify_bundle",
    "verify_consistency",
    "void_to_json",
    "write_entry_file",
    "write_key",
    "write_keypair",
]
