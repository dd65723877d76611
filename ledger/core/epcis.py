"""GS1 EPCIS 2.0 events of ledger entries, so that an EPCIS repository can ingest a ledger.

:func:`to_document` turns entries (each with its log record) into one EPCIS 2.0
``EPCISDocument`` in JSON-LD: one event per entry that records a physical or business
event, in log order, each carrying the ledger's entry id as its ``eventID``. What each
entry type becomes is one row of :data:`ROWS` (``specs/epcis.md`` §3 is the same table in
words); the registry's entry types are left out on purpose (:data:`OMITTED`), and an entry
of a type that is in neither table is skipped and named in the document
(``kpledger:skipped``), never guessed at.

:func:`entry_of` goes back: an EPCIS event of a row's kind to the fields of that row's
entry type, for ``kpledger import --epcis`` (spec §6).

Pure: entries and a state reader in, a JSON-ready dict out (and events and head lookups
in, entry fields out); no clock (the document's ``creationDate`` is a parameter). It does
not decide which entries to export (the façade, ``ledger.api.export_epcis``, walks an
item's ancestry or the whole log), does not check them (the rules engine did before they
were appended, and judges imported ones when they are), does not sign and does not
serialise the JSON. Weights stay integer points in the signed entries; only this view
writes carats as JSON numbers (§2.2 of the spec).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

from ledger.core.disclosure import Opening
from ledger.core.model import Record, SignedEntry
from ledger.errors import EncodingError

__all__ = [
    "CONTEXT",
    "EPCIS_CONTEXT",
    "MASTER_DATA",
    "OMITTED",
    "ROWS",
    "UOM_CARAT",
    "VOCAB",
    "Row",
    "StateReader",
    "carats_number",
    "entry_id_of",
    "entry_of",
    "event_id",
    "item_uri",
    "items_changed",
    "parse_uri",
    "points_of",
    "to_document",
]

#: ``read(kind, key)``: a state value (``kid`` by key-id hex, ``party`` by name,
#: ``transfer`` by offer-id hex, ``parcel`` by id) or None, as after the whole log.
StateReader = Callable[[str, str], Any]

#: The EPCIS 2.0 JSON-LD context, as GS1 publishes it and names it in its examples.
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: The namespace of the ``kpledger:`` extension terms. A term never holds a colon, so no
#: item URI (``urn:kpledger:<origin>:<kind>:<id>``) can be mistaken for one.
VOCAB = "urn:kpledger:vocab:"
#: ``@context`` of every exported document: GS1's context and the one extension prefix.
CONTEXT: tuple[str, Mapping[str, str]] = (EPCIS_CONTEXT, {"kpledger": VOCAB})
#: UN/ECE Recommendation 20 code of the metric carat (200 mg).
UOM_CARAT = "CTM"
#: ``eventID`` prefix: RFC 6920 "named information" with the SHA-256 as lowercase hex, as
#: CBV 2.0 writes its event hashes (without CBV's ``?ver=CBV2.0``: this is not that hash).
_NI = "ni:///sha-256;"

#: CBV master-data attributes (CBV 2.0 §8: location and party master data).
MASTER_DATA = {
    "name": "urn:epcglobal:cbv:mda#name",
    "countryCode": "urn:epcglobal:cbv:mda#countryCode",
}
_VTYPE_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
_VTYPE_PARTY = "urn:epcglobal:epcis:vtype:SourceDest"


# ---------------------------------------------------------------------------
# Identifiers and numbers (specs/epcis.md §2, §4)


def _origin_part(origin: str) -> str:
    # A colon in the origin would make the kind ambiguous; "/" is kept for readability.
    return quote(origin, safe="/")


def item_uri(origin: str, kind: str, ident: str) -> str:
    """``urn:kpledger:<origin>:<kind>:<ident>`` (origin percent-encoded but for ``/``).

    ``kind`` is ``lot``, ``stone``, ``party``, ``site``, ``cert``, ``entry`` or ``report``;
    ``ident`` is already URI-safe (ids and hex) or percent-encoded by the caller (names).
    """
    return f"urn:kpledger:{_origin_part(origin)}:{kind}:{ident}"


def event_id(entry_id: bytes) -> str:
    """The ``eventID`` of an entry: ``ni:///sha-256;<64 lowercase hex digits>``."""
    return _NI + entry_id.hex()


def entry_id_of(event: Mapping[str, Any]) -> bytes:
    """The ledger entry id an exported event carries (the inverse of :func:`event_id`).

    Raises:
        ValueError: the event has no ``eventID`` of that form.
    """
    value = event.get("eventID")
    if not isinstance(value, str) or not value.startswith(_NI):
        raise ValueError(f"eventID {value!r} is not {_NI}<hex>")
    digest = value[len(_NI) :]
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"eventID {value!r}: expected 64 lowercase hex digits")
    return bytes.fromhex(digest)


def carats_number(points: int) -> int | float:
    """Points (1/100 ct) as a JSON number of carats with at most two decimals.

    Whole carats are integers (exact at any size); otherwise the double nearest to
    points/100, whose shortest form is exactly points/100 with at most two decimals for
    any weight below 10**15 points (a double keeps 15 significant decimal digits).
    """
    if points % 100 == 0:
        return points // 100
    return points / 100


def _time(ms: int) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-03-02T10:00:00.000Z``."""
    seconds, millis = divmod(ms, 1000)
    stamp = _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z"


def _money(x: _Export, value: Mapping[str, Any]) -> dict[str, Any]:
    """A money field: clear (an entry from before commitments), or its commitment, with
    the amount and salt only where the exporter discloses it (specs/disclosure.md)."""
    if "amount" in value:
        return {"kpledger:amount": value["amount"], "kpledger:currency": value["currency"]}
    c = bytes(value["commitment"])
    out: dict[str, Any] = {
        "kpledger:commitment": c.hex(),
        "kpledger:currency": value["currency"],
    }
    opening = x.opened.get(c)
    if opening is not None:
        out["kpledger:amount"] = opening.value["amount"]
        out["kpledger:salt"] = opening.salt.hex()
    return out


# ---------------------------------------------------------------------------
# One export: what it has learnt from the entries so far, and what it referred to


@dataclass(frozen=True)
class _Offer:
    sender: str
    receiver: str
    parcels: tuple[str, ...]
    certificate: str | None


@dataclass
class _Parts:
    """What one row's builder fills in; :func:`_event` puts it in the fixed key order."""

    what: dict[str, Any]
    read_point: str | None = None
    biz_location: str | None = None
    transactions: list[tuple[str, str]] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    destinations: list[tuple[str, str]] = field(default_factory=list)
    ilmd: dict[str, Any] | None = None
    extension: dict[str, Any] = field(default_factory=dict)


class _Export:
    """The state of one export: weights and offers seen so far, names referred to."""

    def __init__(
        self, origin: str, read: StateReader, opened: Mapping[bytes, Opening] | None = None
    ) -> None:
        self.origin = origin
        self.read = read
        self.opened: Mapping[bytes, Opening] = opened or {}
        self.lots: dict[str, int] = {}
        self.stones: dict[str, int] = {}
        self.offers: dict[bytes, _Offer] = {}
        self.parties: dict[str, str] = {}  # party URI -> name
        self.sites: dict[str, tuple[str, str]] = {}  # site URI -> (name, party)

    # -- names -------------------------------------------------------------------

    def uri(self, kind: str, ident: str) -> str:
        return item_uri(self.origin, kind, ident)

    def signer(self, entry: SignedEntry) -> str:
        info = self.read("kid", entry.body.signer.hex())
        return str(info["name"]) if info else entry.body.signer.hex()[:16]

    def country(self, name: str) -> str | None:
        party = self.read("party", name)
        return str(party["country"]) if party else None

    def party(self, name: str) -> str:
        uri = self.uri("party", quote(name, safe=""))
        self.parties[uri] = name
        return uri

    def site(self, name: str, place: str | None = None) -> str:
        """A participant's premises, or a named place of it (a mine)."""
        ident = quote(name, safe="")
        if place is not None:
            ident += "/" + quote(place, safe="")
        uri = self.uri("site", ident)
        self.sites[uri] = (place or name, name)
        return uri

    def ends(self, name: str, *, owner: bool = True) -> list[tuple[str, str]]:
        """Source or destination entries naming ``name`` as party and location."""
        party = self.party(name)
        out = [("owning_party", party)] if owner else []
        return [*out, ("possessing_party", party), ("location", self.site(name))]

    # -- goods ---------------------------------------------------------------------

    def lot(self, pid: str, points: int | None) -> dict[str, Any]:
        element: dict[str, Any] = {"epcClass": self.uri("lot", pid)}
        if points is not None:
            element["quantity"] = carats_number(points)
            element["uom"] = UOM_CARAT
        return element

    def goods(self, pids: Iterable[str]) -> tuple[list[str], list[dict[str, Any]]]:
        """Stones as instance-level EPCs, everything else as lots weighed in carats."""
        epcs: list[str] = []
        lots: list[dict[str, Any]] = []
        for pid in pids:
            if pid in self.stones:
                epcs.append(self.uri("stone", pid))
                continue
            points = self.lots.get(pid)
            if points is None:
                parcel = self.read("parcel", pid)
                if parcel is not None and parcel["kind"] == "polished":
                    epcs.append(self.uri("stone", pid))
                    continue
                points = int(parcel["carats"]) if parcel is not None else None
            lots.append(self.lot(pid, points))
        return epcs, lots

    def what(self, pids: Iterable[str], epc_key: str, quantity_key: str) -> dict[str, Any]:
        epcs, lots = self.goods(pids)
        out: dict[str, Any] = {}
        if epcs or not lots:
            out[epc_key] = epcs
        if lots:
            out[quantity_key] = lots
        return out

    def offer(self, offer_id: bytes) -> _Offer | None:
        known = self.offers.get(offer_id)
        if known is not None:
            return known
        state = self.read("transfer", offer_id.hex())
        if state is None:
            return None
        return _Offer(
            str(state["from"]), str(state["to"]), tuple(state["parcels"]), state["certificate"]
        )

    def outputs(self, items: Iterable[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
        """ILMD of transformation outputs: each item with its weight and stone count."""
        out = []
        for o in items:
            one: dict[str, Any] = {
                "kpledger:item": self.uri(kind, o["parcel"]),
                "kpledger:carats": carats_number(o["carats"]),
            }
            if "stones" in o:
                one["kpledger:stones"] = o["stones"]
            out.append(one)
        return out

    def learn(self, entry: SignedEntry, signer: str) -> None:
        """Remember what ``entry`` made (weights, stones) and offered, for later events."""
        f = entry.fields
        t = entry.type
        if t in ("origin", "grow"):
            self.lots[f["parcel"]] = f["carats"]
        elif t == "split":
            self.lots.update((o["parcel"], o["carats"]) for o in f["outputs"])
        elif t == "merge":
            self.lots[f["output"]["parcel"]] = f["output"]["carats"]
        elif t == "cut":
            self.stones.update((o["parcel"], o["carats"]) for o in f["stones"])
            self.lots.update((o["parcel"], o["carats"]) for o in f.get("byproducts", ()))
        elif t == "grade" and "carats" in f:
            self.stones[f["input"]["parcel"]] = f["carats"]
        elif t == "transfer":
            parcels = tuple(i["parcel"] for i in f["inputs"])
            self.offers[entry.id] = _Offer(signer, f["to"], parcels, f.get("certificate"))


# ---------------------------------------------------------------------------
# One builder per entry type (specs/epcis.md §3)

Builder = Callable[[_Export, SignedEntry, str], _Parts]


def _origin(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    mine = x.site(signer, f["mine"])
    ilmd: dict[str, Any] = {}
    country = x.country(signer)
    if country is not None:
        ilmd["cbvmda:countryOfOrigin"] = country
    ilmd.update(
        {"kpledger:mine": f["mine"], "kpledger:stones": f["stones"], "kpledger:hs": f["hs"]}
    )
    return _Parts(
        what={"quantityList": [x.lot(f["parcel"], f["carats"])]},
        read_point=mine,
        biz_location=mine,
        ilmd=ilmd,
    )


#: The ILMD's statement that goods are laboratory-grown (R-SW-3): on a grow event and on
#: every transformation of grown goods.
NATURE_GROWN = {"kpledger:nature": "laboratory-grown"}


def _grow(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    site = x.site(signer, f["facility"])
    ilmd: dict[str, Any] = {}
    country = x.country(signer)
    if country is not None:
        ilmd["kpledger:countryOfProduction"] = country
    ilmd.update({"kpledger:facility": f["facility"], "kpledger:stones": f["stones"]})
    ilmd.update(NATURE_GROWN)
    return _Parts(
        what={"quantityList": [x.lot(f["parcel"], f["carats"])]},
        read_point=site,
        biz_location=site,
        ilmd=ilmd,
    )


def _nature(x: _Export, parcels: Iterable[str]) -> dict[str, str]:
    """NATURE_GROWN when the goods are laboratory-grown (one nature per entry, R-SW-3)."""
    grown = any((x.read("parcel", p) or {}).get("grown") for p in parcels)
    return dict(NATURE_GROWN) if grown else {}


def _certificate_issue(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    return _Parts(
        what=x.what(f["parcels"], "epcList", "quantityList"),
        read_point=x.site(signer),
        transactions=[("cert", x.uri("cert", f["number"]))],
        sources=[("owning_party", x.party(f["exporter"]))],
        destinations=[("owning_party", x.party(f["importer"]))],
        extension={
            "kpledger:exporterCountry": f["exporter_country"],
            "kpledger:importerCountry": f["importer_country"],
            "kpledger:value": _money(x, f["value"]),
            "kpledger:expires": f["expires"],
            "kpledger:carats": carats_number(f["carats"]),
            "kpledger:count": f["count"],
            "kpledger:hs": list(f["hs"]),
            "kpledger:origins": list(f["origins"]),
        },
    )


def _certificate_confirm(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    offer = x.offer(f["shipment"])
    parts = _Parts(
        what=x.what(offer.parcels if offer else (), "epcList", "quantityList"),
        read_point=x.site(signer),
        transactions=[
            ("cert", x.uri("cert", f["number"])),
            ("desadv", x.uri("entry", f["shipment"].hex())),
            ("recadv", x.uri("entry", entry.id.hex())),
        ],
        extension={"kpledger:carats": carats_number(f["carats"]), "kpledger:count": f["count"]},
    )
    if offer is not None:
        parts.sources = [("owning_party", x.party(offer.sender))]
        parts.destinations = [("owning_party", x.party(offer.receiver))]
    return parts


def _transfer(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    own = x.uri("entry", entry.id.hex())
    transactions = [("desadv", own)]
    if "certificate" in f:
        transactions.append(("cert", x.uri("cert", f["certificate"])))
    if "price" in f or "warranty" in f:
        transactions.append(("inv", own))
    extension: dict[str, Any] = {}
    if "price" in f:
        extension["kpledger:price"] = _money(x, f["price"])
    if "warranty" in f:
        extension["kpledger:warranty"] = f["warranty"]
    if "wdc" in f:
        extension["kpledger:wdc"] = f["wdc"]
    return _Parts(
        what=x.what((i["parcel"] for i in f["inputs"]), "epcList", "quantityList"),
        read_point=x.site(signer),
        transactions=transactions,
        sources=x.ends(signer),
        destinations=x.ends(f["to"]),
        extension=extension,
    )


def _answer(x: _Export, entry: SignedEntry) -> tuple[_Offer | None, _Parts]:
    """What accept, reject and cancel share: the offer's goods, desadv and certificate."""
    tid = entry.fields["transfer"]
    offer = x.offer(tid)
    transactions = [("desadv", x.uri("entry", tid.hex()))]
    if offer is not None and offer.certificate is not None:
        transactions.append(("cert", x.uri("cert", offer.certificate)))
    goods = offer.parcels if offer is not None else ()
    return offer, _Parts(x.what(goods, "epcList", "quantityList"), transactions=transactions)


def _accept(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    offer, parts = _answer(x, entry)
    parts.read_point = parts.biz_location = x.site(signer)
    parts.transactions.append(("recadv", x.uri("entry", entry.id.hex())))
    if offer is not None:
        parts.sources = x.ends(offer.sender)
    parts.destinations = x.ends(signer)
    return parts


def _reject(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    offer, parts = _answer(x, entry)
    parts.read_point = x.site(signer)
    parts.sources = x.ends(signer, owner=False)
    if offer is not None:
        parts.biz_location = x.site(offer.sender)
        parts.destinations = x.ends(offer.sender)
    if "reason" in entry.fields:
        parts.extension["kpledger:reason"] = entry.fields["reason"]
    return parts


def _cancel(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    _, parts = _answer(x, entry)
    parts.read_point = parts.biz_location = x.site(signer)
    return parts


def _split(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    here = x.site(signer)
    what = x.what([f["input"]["parcel"]], "inputEPCList", "inputQuantityList")
    what["outputQuantityList"] = [x.lot(o["parcel"], o["carats"]) for o in f["outputs"]]
    ilmd: dict[str, Any] = {"kpledger:outputs": x.outputs(f["outputs"], "lot")}
    ilmd.update(_nature(x, [f["input"]["parcel"]]))
    return _Parts(what, read_point=here, biz_location=here, ilmd=ilmd)


def _merge(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    here = x.site(signer)
    o = f["output"]
    what = x.what((i["parcel"] for i in f["inputs"]), "inputEPCList", "inputQuantityList")
    what["outputQuantityList"] = [x.lot(o["parcel"], o["carats"])]
    ilmd: dict[str, Any] = {"kpledger:outputs": x.outputs([o], "lot")}
    ilmd.update(_nature(x, [i["parcel"] for i in f["inputs"]]))
    return _Parts(what, read_point=here, biz_location=here, ilmd=ilmd)


def _cut(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    here = x.site(signer)
    byproducts = f.get("byproducts", ())
    what = x.what((i["parcel"] for i in f["inputs"]), "inputEPCList", "inputQuantityList")
    what["outputEPCList"] = [x.uri("stone", s["parcel"]) for s in f["stones"]]
    if byproducts:
        what["outputQuantityList"] = [x.lot(b["parcel"], b["carats"]) for b in byproducts]
    outputs = x.outputs(f["stones"], "stone") + x.outputs(byproducts, "lot")
    ilmd: dict[str, Any] = {"kpledger:outputs": outputs}
    ilmd.update(_nature(x, [i["parcel"] for i in f["inputs"]]))
    return _Parts(what, read_point=here, biz_location=here, ilmd=ilmd)


def _grade(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    here = x.site(signer)
    report = x.uri("report", quote(signer, safe="") + ":" + f["report"])
    parts = _Parts(
        what=x.what([f["input"]["parcel"]], "epcList", "quantityList"),
        read_point=here,
        biz_location=here,
        transactions=[("testres", report)],
    )
    if "carats" in f:
        parts.extension["kpledger:carats"] = carats_number(f["carats"])
    return parts


def _sell(x: _Export, entry: SignedEntry, signer: str) -> _Parts:
    f = entry.fields
    party = x.party(signer)
    parts = _Parts(
        what=x.what([f["input"]["parcel"]], "epcList", "quantityList"),
        read_point=x.site(signer),
        sources=[("owning_party", party), ("possessing_party", party)],
    )
    if "price" in f:
        parts.extension["kpledger:price"] = _money(x, f["price"])
    return parts


# ---------------------------------------------------------------------------
# Events back to entries (kpledger import --epcis, specs/epcis.md §6)

#: ``head(parcel id)``: the id of the entry that last changed the parcel.
Head = Callable[[str], bytes]
#: ``ref(entry id)``: the id to use for an entry an event names (an event imported
#: earlier in the same document gets a new entry id).
Ref = Callable[[bytes], bytes]
Parser = Callable[[Mapping[str, Any], Head, Ref], dict[str, Any]]

_URN = "urn:kpledger:"


def parse_uri(uri: Any, *kinds: str) -> tuple[str, str]:
    """``(kind, ident)`` of ``urn:kpledger:<any origin>:<kind>:<ident>`` (ident decoded).

    Raises:
        EncodingError: not such a URI, or of another kind.
    """
    if isinstance(uri, str) and uri.startswith(_URN):
        _, colon, rest = uri[len(_URN) :].partition(":")
        kind, colon2, ident = rest.partition(":")
        if colon and colon2 and kind in kinds and ident:
            return kind, unquote(ident)
    raise EncodingError(f"expected a urn:kpledger:…:{'|'.join(kinds)}:… URI, found {uri!r}")


def points_of(value: Any, what: str) -> int:
    """Integer points (1/100 ct) of a JSON number of carats with at most two decimals.

    Raises:
        EncodingError: not a positive number of carats in hundredths.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EncodingError(f"{what}: expected a number of carats, found {value!r}")
    points = Decimal(repr(value)) * 100
    if not points.is_finite():
        raise EncodingError(f"{what}: expected a number of carats, found {value!r}")
    if points <= 0 or points != points.to_integral_value():
        raise EncodingError(f"{what}: expected positive carats in hundredths, found {value!r}")
    return int(points)


def _ms(value: Any) -> int:
    try:
        when = _dt.datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"eventTime: expected an RFC 3339 time, found {value!r}") from exc
    if when.tzinfo is None:
        raise EncodingError(f"eventTime: {value!r} has no time zone")
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (when - epoch) // _dt.timedelta(milliseconds=1)


def _list(event: Mapping[str, Any], key: str) -> list[Any]:
    value = event.get(key, [])
    if not isinstance(value, list):
        raise EncodingError(f"{key}: expected a list")
    return value


def _goods(
    event: Mapping[str, Any], epc_key: str | None, quantity_key: str | None
) -> list[tuple[str, int | None]]:
    """``(id, points or None for a stone)`` of the goods an event lists under the keys."""
    out: list[tuple[str, int | None]] = []
    for uri in _list(event, epc_key) if epc_key else ():
        out.append((parse_uri(uri, "stone", "lot")[1], None))
    for q in _list(event, quantity_key) if quantity_key else ():
        if not isinstance(q, Mapping):
            raise EncodingError(f"{quantity_key}: expected objects")
        pid = parse_uri(q.get("epcClass"), "lot")[1]
        if q.get("uom") != UOM_CARAT:
            raise EncodingError(f"{quantity_key} {pid}: expected uom {UOM_CARAT}")
        out.append((pid, points_of(q.get("quantity"), f"{quantity_key} {pid}")))
    return out


def _ids(event: Mapping[str, Any], epc_key: str, quantity_key: str) -> list[str]:
    return [pid for pid, _ in _goods(event, epc_key, quantity_key)]


def _inputs(event: Mapping[str, Any], head: Head, epc: str, qty: str) -> list[dict[str, Any]]:
    return [{"parcel": pid, "head": head(pid)} for pid in _ids(event, epc, qty)]


def _transactions(event: Mapping[str, Any], kind: str) -> list[Any]:
    return [
        t.get("bizTransaction")
        for t in _list(event, "bizTransactionList")
        if isinstance(t, Mapping) and t.get("type") == kind
    ]


def _transaction(event: Mapping[str, Any], kind: str, uri_kind: str) -> str | None:
    found = _transactions(event, kind)
    if len(found) > 1:
        raise EncodingError(f"bizTransactionList: more than one {kind}")
    return parse_uri(found[0], uri_kind)[1] if found else None


def _offer(event: Mapping[str, Any], ref: Ref) -> bytes:
    hex_id = _transaction(event, "desadv", "entry")
    if hex_id is None:
        raise EncodingError("bizTransactionList: no desadv naming the offer")
    try:
        offer = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise EncodingError(f"desadv: {hex_id!r} is not an entry id") from exc
    return ref(offer)


def _party(event: Mapping[str, Any], key: str, kind: str) -> str:
    end = key[: -len("List")]
    for item in _list(event, key):
        if isinstance(item, Mapping) and item.get("type") == kind:
            return parse_uri(item.get(end), "party")[1]
    raise EncodingError(f"{key}: no {kind}")


def _required(mapping: Mapping[str, Any], key: str, where: str = "event") -> Any:
    if key not in mapping:
        raise EncodingError(f"{where}: {key} is missing")
    return mapping[key]


def _money_of(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise EncodingError(f"{key}: expected an object of kpledger:amount and kpledger:currency")
    if "kpledger:amount" not in value and "kpledger:commitment" in value:
        # Committed and not disclosed: the new entry carries the same commitment, which
        # the holder of its opening can still open (the label is the same field).
        c = _required(value, "kpledger:commitment", key)
        try:
            commitment = bytes.fromhex(c) if isinstance(c, str) and len(c) == 64 else None
        except ValueError:
            commitment = None
        if commitment is None:
            raise EncodingError(f"{key}: kpledger:commitment must be 64 hex digits")
        return {"commitment": commitment, "currency": _required(value, "kpledger:currency", key)}
    return {
        "amount": _required(value, "kpledger:amount", key),
        "currency": _required(value, "kpledger:currency", key),
    }


def _ilmd_outputs(event: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    ilmd = event.get("ilmd", {})
    outputs = ilmd.get("kpledger:outputs", []) if isinstance(ilmd, Mapping) else []
    if not isinstance(outputs, list):
        raise EncodingError("ilmd kpledger:outputs: expected a list")
    found = {}
    for o in outputs:
        if isinstance(o, Mapping):
            found[parse_uri(o.get("kpledger:item"), "lot", "stone")[1]] = o
    return found


def _outputs(event: Mapping[str, Any], epc: str | None, qty: str | None) -> list[dict[str, Any]]:
    """Outputs with weights (the quantity, else the ILMD) and stone counts (the ILMD)."""
    ilmd = _ilmd_outputs(event)
    out = []
    for pid, points in _goods(event, epc, qty):
        extra = ilmd.get(pid, {})
        if points is None:
            points = points_of(extra.get("kpledger:carats"), f"ilmd weight of {pid}")
        one: dict[str, Any] = {"parcel": pid, "carats": points}
        if "kpledger:stones" in extra:
            one["stones"] = extra["kpledger:stones"]
        out.append(one)
    return out


def _read_origin(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    goods = _goods(event, "epcList", "quantityList")
    if len(goods) != 1 or goods[0][1] is None:
        raise EncodingError("an origin is one lot in quantityList, weighed in carats")
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, Mapping):
        raise EncodingError("ilmd: missing (kpledger:mine, kpledger:stones, kpledger:hs)")
    return {
        "parcel": goods[0][0],
        "carats": goods[0][1],
        "stones": _required(ilmd, "kpledger:stones", "ilmd"),
        "mine": _required(ilmd, "kpledger:mine", "ilmd"),
        "hs": _required(ilmd, "kpledger:hs", "ilmd"),
    }


def _read_grow(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    goods = _goods(event, "epcList", "quantityList")
    if len(goods) != 1 or goods[0][1] is None:
        raise EncodingError("a grow event is one lot in quantityList, weighed in carats")
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, Mapping) or ilmd.get("kpledger:nature") != "laboratory-grown":
        raise EncodingError("ilmd: a grow event states kpledger:nature laboratory-grown")
    return {
        "parcel": goods[0][0],
        "carats": goods[0][1],
        "stones": _required(ilmd, "kpledger:stones", "ilmd"),
        "facility": _required(ilmd, "kpledger:facility", "ilmd"),
    }


def _read_certificate_issue(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    number = _transaction(event, "cert", "cert")
    if number is None:
        raise EncodingError("bizTransactionList: no cert")
    return {
        "number": number,
        "parcels": _ids(event, "epcList", "quantityList"),
        "exporter": _party(event, "sourceList", "owning_party"),
        "importer": _party(event, "destinationList", "owning_party"),
        "exporter_country": _required(event, "kpledger:exporterCountry"),
        "importer_country": _required(event, "kpledger:importerCountry"),
        "value": _money_of(_required(event, "kpledger:value"), "kpledger:value"),
        "expires": _required(event, "kpledger:expires"),
        "carats": points_of(_required(event, "kpledger:carats"), "kpledger:carats"),
        "count": _required(event, "kpledger:count"),
        "hs": _required(event, "kpledger:hs"),
        "origins": _required(event, "kpledger:origins"),
    }


def _read_certificate_confirm(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    number = _transaction(event, "cert", "cert")
    if number is None:
        raise EncodingError("bizTransactionList: no cert")
    return {
        "number": number,
        "shipment": _offer(event, ref),
        "carats": points_of(_required(event, "kpledger:carats"), "kpledger:carats"),
        "count": _required(event, "kpledger:count"),
    }


def _read_transfer(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "to": _party(event, "destinationList", "owning_party"),
        "inputs": _inputs(event, head, "epcList", "quantityList"),
    }
    number = _transaction(event, "cert", "cert")
    if number is not None:
        fields["certificate"] = number
    if "kpledger:price" in event:
        fields["price"] = _money_of(event["kpledger:price"], "kpledger:price")
    if "kpledger:warranty" in event:
        fields["warranty"] = event["kpledger:warranty"]
    if "kpledger:wdc" in event:
        fields["wdc"] = event["kpledger:wdc"]
    return fields


def _read_answer(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    return {"transfer": _offer(event, ref)}


def _read_reject(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    fields = _read_answer(event, head, ref)
    if "kpledger:reason" in event:
        fields["reason"] = event["kpledger:reason"]
    return fields


def _read_split(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    inputs = _inputs(event, head, "inputEPCList", "inputQuantityList")
    if len(inputs) != 1:
        raise EncodingError("a split has one input")
    return {
        "input": inputs[0],
        "outputs": _outputs(event, "outputEPCList", "outputQuantityList"),
    }


def _read_merge(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    outputs = _outputs(event, "outputEPCList", "outputQuantityList")
    if len(outputs) != 1:
        raise EncodingError("a merge has one output")
    return {
        "inputs": _inputs(event, head, "inputEPCList", "inputQuantityList"),
        "output": outputs[0],
    }


def _read_cut(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "inputs": _inputs(event, head, "inputEPCList", "inputQuantityList"),
        "stones": _outputs(event, "outputEPCList", None),
    }
    byproducts = _outputs(event, None, "outputQuantityList")
    if byproducts:
        fields["byproducts"] = byproducts
    return fields


def _one_input(event: Mapping[str, Any], head: Head) -> dict[str, Any]:
    inputs = _inputs(event, head, "epcList", "quantityList")
    if len(inputs) != 1:
        raise EncodingError("expected one stone in epcList")
    return inputs[0]


def _read_grade(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    report = _transaction(event, "testres", "report")
    if report is None or ":" not in report:
        raise EncodingError("bizTransactionList: no testres naming the grader's report")
    fields: dict[str, Any] = {"input": _one_input(event, head), "report": report.split(":", 1)[1]}
    if "kpledger:carats" in event:
        fields["carats"] = points_of(event["kpledger:carats"], "kpledger:carats")
    return fields


def _read_sell(event: Mapping[str, Any], head: Head, ref: Ref) -> dict[str, Any]:
    fields: dict[str, Any] = {"input": _one_input(event, head)}
    if "kpledger:price" in event:
        fields["price"] = _money_of(event["kpledger:price"], "kpledger:price")
    return fields


@dataclass(frozen=True)
class Row:
    """How one entry type becomes an EPCIS event (one row of specs/epcis.md §3), and how
    such an event becomes that entry's fields again (``parse``, for import)."""

    event: str
    action: str | None
    biz_step: str
    disposition: str | None
    build: Builder
    parse: Parser


#: Entry type -> event. Adding an entry type that records a physical or business event
#: is one row here (and one in the spec's table).
ROWS: dict[str, Row] = {
    "origin": Row("ObjectEvent", "ADD", "commissioning", "active", _origin, _read_origin),
    "grow": Row("ObjectEvent", "ADD", "commissioning", "active", _grow, _read_grow),
    "certificate.issue": Row(
        "TransactionEvent",
        "ADD",
        "inspecting",
        "conformant",
        _certificate_issue,
        _read_certificate_issue,
    ),
    "certificate.confirm": Row(
        "TransactionEvent",
        "OBSERVE",
        "inspecting",
        "conformant",
        _certificate_confirm,
        _read_certificate_confirm,
    ),
    "transfer": Row("ObjectEvent", "OBSERVE", "shipping", "in_transit", _transfer, _read_transfer),
    "accept": Row("ObjectEvent", "OBSERVE", "receiving", "in_progress", _accept, _read_answer),
    "reject": Row("ObjectEvent", "OBSERVE", "shipping", "returned", _reject, _read_reject),
    "cancel": Row("ObjectEvent", "OBSERVE", "void_shipping", "in_progress", _cancel, _read_answer),
    "split": Row("TransformationEvent", None, "repackaging", "in_progress", _split, _read_split),
    "merge": Row("TransformationEvent", None, "repackaging", "in_progress", _merge, _read_merge),
    "cut": Row("TransformationEvent", None, "commissioning", "active", _cut, _read_cut),
    "grade": Row("ObjectEvent", "OBSERVE", "inspecting", "conformant", _grade, _read_grade),
    "sell": Row("ObjectEvent", "OBSERVE", "retail_selling", "retail_sold", _sell, _read_sell),
}

#: Entry types left out on purpose, and why (specs/epcis.md §5). The participants they
#: register appear as master data in the document's header instead.
OMITTED: dict[str, str] = {
    "genesis": "the ledger's own creation: no goods, nothing EPCIS records",
    "participant.add": "registry; the participant is master data in epcisHeader",
    "participant.revoke": "registry: a key's life cycle, not an event about goods",
    "participant.rotate": "registry: a key's life cycle, not an event about goods",
    "kp-status.set": "registry: a country's KP status, not an event about goods",
    "param.set": "registry: a rule parameter of this ledger, not an event about goods",
    "governance.set": "registry: who approves registry changes, not an event about goods",
    "sanction.designate": "registry: a sanctions list's designation, not an event about goods",
    "sanction.delist": "registry: a sanctions list's de-listing, not an event about goods",
}


# ---------------------------------------------------------------------------
# Events and the document


def _event(x: _Export, row: Row, record: Record, entry: SignedEntry) -> dict[str, Any]:
    signer = x.signer(entry)
    parts = row.build(x, entry, signer)
    event: dict[str, Any] = {
        "type": row.event,
        "eventTime": _time(entry.body.time),
        "eventTimeZoneOffset": "+00:00",
        "recordTime": _time(record.time),
        "eventID": event_id(entry.id),
    }
    if row.action is not None:
        event["action"] = row.action
    event.update(parts.what)
    event["bizStep"] = row.biz_step
    if row.disposition is not None:
        event["disposition"] = row.disposition
    if parts.read_point is not None:
        event["readPoint"] = {"id": parts.read_point}
    if parts.biz_location is not None:
        event["bizLocation"] = {"id": parts.biz_location}
    if parts.transactions:
        event["bizTransactionList"] = [
            {"type": t, "bizTransaction": uri} for t, uri in parts.transactions
        ]
    if parts.sources:
        event["sourceList"] = [{"type": t, "source": uri} for t, uri in parts.sources]
    if parts.destinations:
        event["destinationList"] = [
            {"type": t, "destination": uri} for t, uri in parts.destinations
        ]
    if parts.ilmd is not None:
        event["ilmd"] = parts.ilmd
    event["kpledger:entryType"] = entry.type
    event["kpledger:recordIndex"] = record.index
    event["kpledger:signer"] = x.party(signer)
    event.update(parts.extension)
    x.learn(entry, signer)
    return event


def _attributes(name: str, country: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": MASTER_DATA["name"], "attribute": name}]
    if country is not None:
        out.append({"id": MASTER_DATA["countryCode"], "attribute": country})
    return out


def _master_data(x: _Export) -> list[dict[str, Any]]:
    vocabularies = []
    if x.sites:
        sites = [
            {"id": uri, "attributes": _attributes(name, x.country(party))}
            for uri, (name, party) in sorted(x.sites.items())
        ]
        vocabularies.append({"type": _VTYPE_LOCATION, "vocabularyElementList": sites})
    if x.parties:
        parties = []
        for uri, name in sorted(x.parties.items()):
            state = x.read("party", name)
            attributes = _attributes(name, x.country(name))
            if state is not None:
                attributes.append({"id": "kpledger:roles", "attribute": ",".join(state["roles"])})
            parties.append({"id": uri, "attributes": attributes})
        vocabularies.append({"type": _VTYPE_PARTY, "vocabularyElementList": parties})
    return vocabularies


def to_document(
    records: Iterable[tuple[Record, SignedEntry]],
    read: StateReader,
    *,
    origin: str,
    size: int,
    created: int,
    item: str | None = None,
    rows: Mapping[str, Row] = ROWS,
    openings: Iterable[Opening] = (),
) -> dict[str, Any]:
    """The EPCIS 2.0 document of ``records`` (sorted into log order here). Committed money
    fields are exported as commitments; those ``openings`` open are disclosed (amount and
    salt beside the commitment).

    Args:
        records: the entries to export with their log records.
        read: state lookups after the whole log (names, countries, offers, parcels of
            entries outside ``records``).
        origin: the ledger's origin line (it names every identifier).
        size: the log's size when exported (``kpledger:logSize``).
        created: the document's ``creationDate`` (ms since the epoch).
        item: the item whose ancestry this is, if any (``kpledger:item``).
        rows: the mapping table (tests replace it to model a type this exporter lacks).
        openings: openings the exporter discloses (specs/disclosure.md).

    Returns:
        A JSON-ready dict whose key order is the order in which to write it.
    """
    x = _Export(origin, read, {o.commitment(): o for o in openings})
    events = []
    skipped = []
    for record, entry in sorted(records, key=lambda pair: pair[0].index):
        row = rows.get(entry.type)
        if row is not None:
            events.append(_event(x, row, record, entry))
        elif entry.type not in OMITTED:
            skipped.append(
                {
                    "kpledger:entryType": entry.type,
                    "kpledger:recordIndex": record.index,
                    "kpledger:entryId": entry.id.hex(),
                }
            )
    document: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, dict(CONTEXT[1])],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created),
        "kpledger:origin": origin,
        "kpledger:logSize": size,
    }
    if item is not None:
        document["kpledger:item"] = item
    if skipped:
        document["kpledger:skipped"] = skipped
    vocabularies = _master_data(x)
    if vocabularies:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    document["epcisBody"] = {"eventList": events}
    return document


def _entry_type(event: Mapping[str, Any], rows: Mapping[str, Row]) -> str:
    """The entry type whose row an event matches (specs/epcis.md §6)."""
    key = (event.get("type"), event.get("action"), event.get("bizStep"))
    found = [t for t, r in rows.items() if (r.event, r.action, r.biz_step) == key]
    if len(found) > 1:
        found = [t for t in found if rows[t].disposition == event.get("disposition")] or found
    if set(found) == {"origin", "grow"}:
        ilmd = event.get("ilmd")
        grown = isinstance(ilmd, Mapping) and ilmd.get("kpledger:nature") == "laboratory-grown"
        found = ["grow" if grown else "origin"]
    if set(found) == {"split", "merge"}:
        many_in = len(_goods(event, "inputEPCList", "inputQuantityList")) > 1
        found = ["merge" if many_in else "split"]
    if len(found) != 1:
        what = ", ".join(str(k) for k in key if k is not None)
        raise EncodingError(f"no ledger entry type for a {what} event")
    return found[0]


def entry_of(
    event: Mapping[str, Any], head: Head, ref: Ref, *, rows: Mapping[str, Row] = ROWS
) -> tuple[str, dict[str, Any], int]:
    """The entry an EPCIS event stands for: ``(type, fields, claimed time in ms)``.

    The inverse of the export for the fields the ledger signs: parcels and stones from the
    ``urn:kpledger`` identifiers (of any origin), parties from the source and destination
    lists, offers and shipments from the ``desadv`` entry URI, the rest from the
    ``kpledger:`` extensions and ILMD. The fields' shapes are checked when the entry is
    signed (``specs/entries.md``), what they mean by the rules when it is appended.

    Raises:
        EncodingError: the event matches no row, or lacks what the entry needs.
    """
    if not isinstance(event, Mapping):
        raise EncodingError("an event is a JSON object")
    entry_type = _entry_type(event, rows)
    fields = rows[entry_type].parse(event, head, ref)
    return entry_type, fields, _ms(event.get("eventTime"))


def items_changed(
    entry_type: str, fields: Mapping[str, Any], offer_parcels: Callable[[bytes], Sequence[str]]
) -> list[str]:
    """The parcels and stones whose latest state an entry of these fields becomes (so that a
    later event of the same import names it as their head)."""
    if entry_type in ("origin", "grow"):
        return [fields["parcel"]]
    if entry_type == "transfer":
        return [i["parcel"] for i in fields["inputs"]]
    if entry_type in ("accept", "reject", "cancel"):
        return list(offer_parcels(fields["transfer"]))
    if entry_type == "split":
        return [o["parcel"] for o in fields["outputs"]]
    if entry_type == "merge":
        return [fields["output"]["parcel"]]
    if entry_type == "cut":
        return [o["parcel"] for o in (*fields["stones"], *fields.get("byproducts", ()))]
    if entry_type in ("grade", "sell"):
        return [fields["input"]["parcel"]]
    return []
