"""kpledger: an append-only, hash-chained provenance ledger for rough diamonds.

The public API is what this module exports; every other module is an
implementation detail. Layers, bottom first: ``errors``, ``encoding``,
``ed25519``, ``model``, ``keys``, ``merkle``/``tiles``, ``note``/``policy``,
``rules``, ``replay``, ``proofs`` (pure), then ``store``/``keyfile`` (I/O) and
the ``Ledger`` façade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.core.journey import Step
from ledger.core.keys import PrivateKey
from ledger.core.model import ROLES, Record, SignedEntry, check_date, entry_to_json, key_id
from ledger.core.note import (
    Checkpoint,
    Verifier,
    format_vkey,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
    parse_vkey,
)
from ledger.core.proofs import BundleReport, inspect_bundle, verify_bundle
from ledger.core.rules import date_of, format_composition
from ledger.errors import (
    ChainError,
    EncodingError,
    KeyFileError,
    LedgerError,
    LimitError,
    NotFoundError,
    PolicyError,
    ProofError,
    RuleError,
    SignatureError,
    StoreError,
    UsageError,
)

if TYPE_CHECKING:
    from ledger.ledger import Ledger, Trace, VerifyReport
    from ledger.storage.entryfile import read_entry_file, write_entry_file
    from ledger.storage.keyfile import load_private, load_public, write_keypair
    from ledger.storage.store import Appended

#: Names from the I/O edge, imported on first use (PEP 562) so that importing a pure
#: module (``ledger.encoding`` ...) never loads sqlite_utils or click.
_LAZY = {
    "Ledger": "ledger.ledger",
    "Trace": "ledger.ledger",
    "VerifyReport": "ledger.ledger",
    "Appended": "ledger.storage.store",
    "load_private": "ledger.storage.keyfile",
    "load_public": "ledger.storage.keyfile",
    "write_keypair": "ledger.storage.keyfile",
    "read_entry_file": "ledger.storage.entryfile",
    "write_entry_file": "ledger.storage.entryfile",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__version__ = "0.1.0"

__all__ = [
    "ROLES",
    "Appended",
    "BundleReport",
    "ChainError",
    "Checkpoint",
    "EncodingError",
    "KeyFileError",
    "Ledger",
    "LedgerError",
    "LimitError",
    "NotFoundError",
    "PolicyError",
    "PrivateKey",
    "ProofError",
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
    "__version__",
    "check_date",
    "date_of",
    "entry_to_json",
    "format_composition",
    "format_vkey",
    "inspect_bundle",
    "key_id",
    "load_private",
    "load_public",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_note",
    "parse_vkey",
    "read_entry_file",
    "verify_bundle",
    "write_entry_file",
    "write_keypair",
]
