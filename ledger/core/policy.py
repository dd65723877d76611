"""A buyer's trust policy: the c2sp.org/tlog-policy file format plus kpledger lines.

Implements ``specs/policy.md``. :func:`parse_policy` turns the text of a policy file
into a frozen :class:`Policy` (trusted logs, witnesses, witness groups, the quorum, and
kpledger's ``deny-origin`` and ``require`` lines); :func:`check_quorum` decides whether
a set of verified cosigners satisfies the quorum.

Pure: text in, values out; no files or network. It does not verify signatures (see
``ledger.note.open_checkpoint`` and ``verify_cosignatures``) and does not evaluate an
item's origins or warranties against the policy (``ledger.proofs`` does, with the
semantics of specs/policy.md §4).
"""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass

from ledger.core.model import check_date
from ledger.core.note import SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, Verifier, parse_vkey
from ledger.errors import EncodingError, KeyFileError, PolicyError

__all__ = [
    "MAX_POLICY_SIZE",
    "Group",
    "Log",
    "Policy",
    "Witness",
    "check_quorum",
    "named_policy",
    "parse_policy",
]

#: Largest policy file accepted, in bytes (spec §2).
MAX_POLICY_SIZE = 64 << 10

# Spec §2: octets 0x09, 0x0A, 0x20-0x7E and 0x80-0xFF only (newlines are split off first).
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_SEPARATOR = re.compile("[ \t]+")
_COUNTRY = re.compile("[A-Z]{2}")
_THRESHOLD = re.compile("[1-9][0-9]{0,3}")
_KEYWORDS = (
    "log",
    "witness",
    "group",
    "quorum",
    "deny-origin",
    "deny-custody",
    "deny-listed",
    "pack",
    "grandfather-before",
    "require",
)
_REQUIREMENTS = ("kp-certified", "warranty", "import-confirmed", "natural")
#: The jurisdiction rule packs a ``pack`` line may name (``ledger.core.sanctions.PACKS``).
_PACKS = ("eu-russia", "us-russia")
_LIST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Log:
    """A trusted log: its checkpoint-signing key (type 0x01; name = origin) and URL."""

    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True)
class Witness:
    """A trusted witness: its policy name, cosigning key (type 0x04) and URL."""

    name: str
    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True)
class Group:
    """A witness group, witnessed when at least ``threshold`` of its members are."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A parsed policy file (spec §3, §4). ``quorum`` is a witness or group name, or
    ``"none"``. ``deny_origins`` holds ISO 3166-1 alpha-2 codes."""

    logs: tuple[Log, ...] = ()
    witnesses: tuple[Witness, ...] = ()
    groups: tuple[Group, ...] = ()
    quorum: str = "none"
    deny_origins: frozenset[str] = frozenset()
    require_kp: bool = False
    require_warranty: bool = False
    require_import_confirmed: bool = False
    require_natural: bool = False
    #: Jurisdiction rule packs (``eu-russia``, ``us-russia``), in file order.
    packs: tuple[str, ...] = ()
    #: Countries the goods must never have been held in or exported from (R-SA-2).
    deny_custody: frozenset[str] = frozenset()
    #: Sanctions lists whose designated parties must not have acted on the goods (R-SA-4).
    deny_listed: frozenset[str] = frozenset()
    #: Accept otherwise-denied Russian content proven outside Russia before this date by a
    #: witness-cosigned checkpoint (R-SA-3).
    grandfather_before: str | None = None

    def summary(self) -> list[str]:
        """The kpledger rules of the policy, one short line each, in a fixed order."""
        out = [f"pack {name}" for name in self.packs]
        if self.deny_origins:
            out.append("deny-origin " + ",".join(sorted(self.deny_origins)))
        if self.deny_custody:
            out.append("deny-custody " + ",".join(sorted(self.deny_custody)))
        out.extend(f"deny-listed {name}" for name in sorted(self.deny_listed))
        if self.grandfather_before:
            out.append(f"grandfather-before {self.grandfather_before}")
        for flag, name in (
            (self.require_kp, "kp-certified"),
            (self.require_warranty, "warranty"),
            (self.require_import_confirmed, "import-confirmed"),
            (self.require_natural, "natural"),
        ):
            if flag:
                out.append(f"require {name}")
        if self.quorum != "none":
            out.append(f"witness quorum {self.quorum}")
        return out

    def log_verifiers(self) -> list[Verifier]:
        """Return the verifiers of the trusted logs, for ``note.open_checkpoint``."""
        return [log.verifier for log in self.logs]

    def witness_verifiers(self) -> list[Verifier]:
        """Return the witnesses' cosigner keys, for ``note.verify_cosignatures``."""
        return [w.verifier for w in self.witnesses]


def check_quorum(policy: Policy, verified_cosigners: Set[str]) -> None:
    """Check that the cosigners who verifiably cosigned satisfy the quorum (spec §3.4).

    Args:
        policy: the policy.
        verified_cosigners: the key names of the cosigners whose cosignatures verified,
            as returned (dict keys) by ``note.verify_cosignatures``.

    Raises:
        PolicyError: if the quorum is not met.
        ValueError: if the policy names an undefined quorum (it was not parsed).
    """
    if policy.quorum == "none":
        return
    witnessed = {w.name: w.verifier.name in verified_cosigners for w in policy.witnesses}
    for group in policy.groups:  # members are always defined before the group (spec §3.3)
        witnessed[group.name] = sum(witnessed[m] for m in group.members) >= group.threshold
    if policy.quorum not in witnessed:
        raise ValueError(f"policy quorum {policy.quorum!r} is not a witness or group")
    if not witnessed[policy.quorum]:
        seen = sorted(w.name for w in policy.witnesses if witnessed[w.name])
        raise PolicyError(
            f"witness quorum {policy.quorum!r} is not met; "
            f"verified cosignatures from: {', '.join(seen) or 'no policy witness'}"
        )


def _decode(text: str | bytes) -> str:
    """Size-check and decode a policy file (spec §2).

    Raises:
        PolicyError: if it is too large or not UTF-8.
    """
    if not isinstance(text, str | bytes):
        raise PolicyError("a policy must be text or bytes")
    if len(text) > MAX_POLICY_SIZE:
        raise PolicyError(f"policy is larger than {MAX_POLICY_SIZE} bytes")
    try:
        if isinstance(text, bytes):
            return text.decode("utf-8")
        if len(text.encode("utf-8")) > MAX_POLICY_SIZE:
            raise PolicyError(f"policy is larger than {MAX_POLICY_SIZE} bytes")
    except UnicodeError:
        raise PolicyError("policy is not valid UTF-8") from None
    return text


class _Parser:
    """Accumulates the lines of one policy file (spec §3)."""

    def __init__(self) -> None:
        self.logs: list[Log] = []
        self.witnesses: list[Witness] = []
        self.groups: list[Group] = []
        self.names: set[str] = set()  # witnesses and groups share one namespace
        self.keys: set[bytes] = set()
        self.cosigner_names: set[str] = set()
        self.quorum: str | None = None
        self.deny: set[str] = set()
        self.require: set[str] = set()
        self.packs: list[str] = []
        self.custody: set[str] = set()
        self.listed: set[str] = set()
        self.grandfather: str | None = None

    def vkey(self, text: str, sig_type: int, what: str) -> Verifier:
        try:
            verifier = parse_vkey(text)
        except KeyFileError as exc:
            raise PolicyError(f"bad {what} vkey: {exc.message}") from exc
        if verifier.sig_type != sig_type:
            raise PolicyError(
                f"a {what} vkey must have signature type 0x{sig_type:02x}, "
                f"got 0x{verifier.sig_type:02x}"
            )
        if verifier.public in self.keys:
            raise PolicyError(f"duplicate key: {verifier.name} is already in the policy")
        self.keys.add(verifier.public)
        return verifier

    def new_name(self, name: str) -> None:
        if name == "none":
            raise PolicyError("'none' is reserved and cannot name a witness or group")
        if name in self.names:
            raise PolicyError(f"{name!r} is already defined")
        self.names.add(name)

    def line(self, keyword: str, args: list[str]) -> None:
        if keyword == "log" and len(args) in (1, 2):
            verifier = self.vkey(args[0], SIG_TYPE_ED25519, "log")
            self.logs.append(Log(verifier, args[1] if len(args) == 2 else None))
        elif keyword == "witness" and len(args) in (2, 3):
            self.new_name(args[0])
            verifier = self.vkey(args[1], SIG_TYPE_COSIGNATURE_V1, "witness")
            if verifier.name in self.cosigner_names:
                raise PolicyError(f"two witnesses share the key name {verifier.name!r}")
            self.cosigner_names.add(verifier.name)
            self.witnesses.append(Witness(args[0], verifier, args[2] if len(args) == 3 else None))
        elif keyword == "group" and len(args) >= 3:
            self.group(args[0], args[1], args[2:])
        elif keyword == "quorum" and len(args) == 1:
            if self.quorum is not None:
                raise PolicyError("more than one quorum line")
            if args[0] != "none" and args[0] not in self.names:
                raise PolicyError(f"quorum {args[0]!r} is not a witness or group defined above")
            self.quorum = args[0]
        elif keyword == "deny-origin" and len(args) == 1:
            self.deny.update(self.countries(args[0]))
        elif keyword == "deny-custody" and len(args) == 1:
            self.custody.update(self.countries(args[0]))
        elif keyword == "deny-listed" and len(args) == 1:
            if _LIST_ID.fullmatch(args[0]) is None:
                raise PolicyError(f"{args[0]!r} is not a sanctions list id")
            self.listed.add(args[0])
        elif keyword == "pack" and len(args) == 1:
            if args[0] not in _PACKS:
                raise PolicyError(f"unknown rule pack {args[0]!r}; expected one of {_PACKS}")
            if args[0] not in self.packs:
                self.packs.append(args[0])
        elif keyword == "grandfather-before" and len(args) == 1:
            if self.grandfather is not None:
                raise PolicyError("more than one grandfather-before line")
            try:
                check_date(args[0], "grandfather-before")
            except EncodingError:
                raise PolicyError(f"{args[0]!r} is not a date YYYY-MM-DD") from None
            self.grandfather = args[0]
        elif keyword == "require" and len(args) == 1:
            if args[0] not in _REQUIREMENTS:
                raise PolicyError(
                    f"unknown requirement {args[0]!r}; expected one of {_REQUIREMENTS}"
                )
            self.require.add(args[0])
        elif keyword in _KEYWORDS:
            raise PolicyError(f"wrong number of arguments for {keyword!r}")
        else:
            raise PolicyError(f"unknown keyword {keyword!r}")

    @staticmethod
    def countries(text: str) -> list[str]:
        codes = text.split(",")
        for code in codes:
            if _COUNTRY.fullmatch(code) is None:
                raise PolicyError(f"{code!r} is not an ISO 3166-1 alpha-2 code (like CF)")
        return codes

    def group(self, name: str, k: str, members: list[str]) -> None:
        # Spec §3.3: members defined above, each at most once, never 'none'.
        for member in members:
            if member not in self.names:
                raise PolicyError(
                    f"group member {member!r} is not a witness or group defined above"
                )
        if len(set(members)) != len(members):
            raise PolicyError(f"group {name!r} lists a member twice")
        if k == "all":
            threshold = len(members)
        elif k == "any":
            threshold = 1
        elif _THRESHOLD.fullmatch(k) and int(k) <= len(members):
            threshold = int(k)
        else:
            raise PolicyError(
                f"group threshold must be all, any or 1..{len(members)} in decimal, got {k!r}"
            )
        self.new_name(name)
        self.groups.append(Group(name, threshold, tuple(members)))


def named_policy(name: str) -> Policy:
    """The policy of a jurisdiction rule pack alone (``eu-russia``, ``us-russia``): what
    ``--policy NAME`` means when NAME is not a file.

    Raises:
        PolicyError: no such pack.
    """
    if name not in _PACKS:
        raise PolicyError(f"unknown rule pack {name!r}; expected one of {_PACKS}")
    return Policy(packs=(name,))


def parse_policy(text: str | bytes) -> Policy:
    """Parse a policy file (spec §2-§4).

    Raises:
        PolicyError: naming the line, if the file is too large, not UTF-8, has a
            forbidden control character, an unknown keyword, a malformed or duplicate
            key, an undefined or duplicate name, a bad threshold or country code, or not
            exactly one quorum line.
    """
    source = _decode(text)
    parser = _Parser()
    for number, line in enumerate(source.split("\n"), start=1):
        try:
            if _FORBIDDEN.search(line):
                raise PolicyError("control characters other than tab are not allowed")
            tokens = _SEPARATOR.split(line.strip(" \t"))
            if tokens[0] == "" or tokens[0].startswith("#"):
                continue
            parser.line(tokens[0], tokens[1:])
        except PolicyError as exc:
            raise PolicyError(f"policy line {number}: {exc.message}") from exc
    if parser.quorum is None:
        raise PolicyError("policy has no quorum line (use 'quorum none' for no witnesses)")
    return Policy(
        logs=tuple(parser.logs),
        witnesses=tuple(parser.witnesses),
        groups=tuple(parser.groups),
        quorum=parser.quorum,
        deny_origins=frozenset(parser.deny),
        require_kp="kp-certified" in parser.require,
        require_warranty="warranty" in parser.require,
        require_import_confirmed="import-confirmed" in parser.require,
        require_natural="natural" in parser.require,
        packs=tuple(parser.packs),
        deny_custody=frozenset(parser.custody),
        deny_listed=frozenset(parser.listed),
        grandfather_before=parser.grandfather,
    )
