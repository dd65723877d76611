"""The one error hierarchy of kpledger.

Every failure a caller can act on is a subclass of :class:`LedgerError`. The CLI
turns these into one readable line and a non-zero exit in exactly one place.
"The data is bad" (``EncodingError``, ``SignatureError``, ``ChainError``,
``RuleError``, ``ProofError``) is kept apart from "could not check"
(``StoreError``, ``KeyFileError``, ``NotFoundError``). ``SimulationError`` is
neither: it reports a bug in the simulator or the rules engine.

This module imports nothing.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error kpledger raises on purpose."""

    #: Short machine-readable code, shown in JSON error output.
    code = "ledger"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule

    def __str__(self) -> str:
        if self.rule:
            return f"{self.rule}: {self.message}"
        return self.message


class EncodingError(LedgerError):
    """Bytes that are not the one canonical encoding of a valid object."""

    code = "encoding"


class LimitError(EncodingError):
    """An input larger than the specified maximum (checked before parsing)."""

    code = "limit"


class UncheckedParseError(EncodingError):
    """A replay that skips the canonical checks met a record it cannot use.

    Only a parallel ``verify`` replays unchecked; its worker processes check every record
    in full and name the fault, so this error is never the one a user sees.
    """

    code = "unchecked-parse"


class SignatureError(LedgerError):
    """A signature that does not verify under the ledger's signature rule."""

    code = "signature"


class KeyFileError(LedgerError):
    """A key file that is missing, corrupt, unsafe or locked by another passphrase."""

    code = "key"


class ChainError(LedgerError):
    """A broken hash chain: bad index, bad previous hash, duplicate entry."""

    code = "chain"


class RuleError(LedgerError):
    """An entry the rules engine rejects; ``rule`` names the rule ID."""

    code = "rule"


class ProofError(LedgerError):
    """A Merkle proof, checkpoint, note or provenance bundle that does not verify."""

    code = "proof"
    #: For a bundle: the check of specs/proof-bundle.md §4 that failed (``decode``,
    #: ``checkpoint``, ``inclusion``, ...), or the rule ID a record of its replay breaks;
    #: set by ``proofs.inspect_bundle``.
    check: str | None = None


class PolicyError(ProofError):
    """A valid proof whose item fails the buyer's policy."""

    code = "policy"


class ForkError(ProofError):
    """A node whose signed checkpoints contradict each other (rewritten or split view)."""

    code = "fork"


class WitnessError(ProofError):
    """A checkpoint a witness will not cosign; ``status`` is the tlog-witness HTTP code."""

    code = "witness"

    def __init__(
        self,
        message: str,
        *,
        status: int = 422,
        size: int | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message, rule=rule)
        self.status = status
        self.size = size


class NotFoundError(LedgerError):
    """An entry, record, parcel or participant that does not exist."""

    code = "not-found"


class StoreError(LedgerError):
    """The storage could not be read or written (not a statement about the data)."""

    code = "store"


class ReadOnlyError(StoreError):
    """An append sent to a ledger that cannot take it (a node without an operator key)."""

    code = "read-only"


class UsageError(LedgerError):
    """A malformed argument: a number, date, id or list that cannot be parsed."""

    code = "usage"


class SimulationError(LedgerError):
    """The simulator wrote a batch the ledger refused: a bug in the simulator or in the
    rules engine (``rule`` names the rule that refused it)."""

    code = "simulation"


def error_classes() -> dict[str, type[LedgerError]]:
    """``code -> class`` for every error class (what the node's error answers name)."""
    out: dict[str, type[LedgerError]] = {}
    todo: list[type[LedgerError]] = [LedgerError]
    while todo:
        cls = todo.pop()
        if cls.code in out and out[cls.code] is not cls:
            raise TypeError(f"error code {cls.code!r} names two classes")
        out[cls.code] = cls
        todo.extend(cls.__subclasses__())
    return out
