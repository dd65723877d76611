"""Plain words for the buyer's page: warnings explained, country names, role labels.

Every sentence a buyer reads that does not come from the ledger lives here, with the
small formatters of weights and dates the page and the graph share. No geometry, no
HTML and no ledger logic: the rules engine decided what each warning means for validity.
"""

from __future__ import annotations

import datetime as dt

import ledger as lg

#: One paragraph per WARN rule of specs/rules.md, for a buyer who has never read it.
WARN_EXPLANATIONS: dict[str, tuple[str, str]] = {
    "R-SW-1": (
        "Goods changed hands without a System of Warranties statement",
        "Under the World Diamond Council's System of Warranties, every seller of diamonds "
        "declares on the invoice that the goods come from legitimate sources, not involved "
        "in funding conflict, and comply with the Kimberley Process. The ledger accepted "
        "this transfer but records that the seller made no such declaration. It does not "
        "mean the stone is a conflict diamond; ask the seller why the statement is missing. "
        "A buyer policy with 'require warranty' rejects such stones.",
    ),
    "R-MB-1": (
        "Weight was lost without explanation",
        "When a parcel is split or merged, the weights of what comes out must add up to what "
        "went in, within the scales' tolerance. Here noticeably less came out. Stones can be "
        "lost, broken or set aside, but the ledger has no record of why. Ask the trader for "
        "the weighing records of this split or merge.",
    ),
    "R-MB-5": (
        "The cutting yield is unusual",
        "Cutting normally keeps between 15% and 70% of the rough's weight as polished "
        "diamond. A yield outside that range is allowed but may mean that a weight was "
        "declared wrongly, or that rough from elsewhere was mixed in or swapped. Ask the "
        "cutter for the planning and weighing records of this cut.",
    ),
}

#: Names of the countries a buyer is likely to meet (KP participants and trading hubs).
COUNTRY_NAMES: dict[str, str] = {
    "AE": "United Arab Emirates",
    "AM": "Armenia",
    "AO": "Angola",
    "AT": "Austria",
    "AU": "Australia",
    "BD": "Bangladesh",
    "BE": "Belgium",
    "BR": "Brazil",
    "BW": "Botswana",
    "BY": "Belarus",
    "CA": "Canada",
    "CD": "DR Congo",
    "CF": "Central African Republic",
    "CG": "Republic of the Congo",
    "CH": "Switzerland",
    "CI": "Côte d'Ivoire",
    "CM": "Cameroon",
    "CN": "China",
    "CZ": "Czechia",
    "DE": "Germany",
    "ES": "Spain",
    "FR": "France",
    "GA": "Gabon",
    "GB": "United Kingdom",
    "GH": "Ghana",
    "GN": "Guinea",
    "GY": "Guyana",
    "HK": "Hong Kong",
    "ID": "Indonesia",
    "IL": "Israel",
    "IN": "India",
    "IT": "Italy",
    "JP": "Japan",
    "KR": "South Korea",
    "KZ": "Kazakhstan",
    "LA": "Laos",
    "LB": "Lebanon",
    "LK": "Sri Lanka",
    "LR": "Liberia",
    "LS": "Lesotho",
    "MU": "Mauritius",
    "MX": "Mexico",
    "MY": "Malaysia",
    "NA": "Namibia",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PA": "Panama",
    "PT": "Portugal",
    "RU": "Russia",
    "SG": "Singapore",
    "SL": "Sierra Leone",
    "SZ": "Eswatini",
    "TG": "Togo",
    "TH": "Thailand",
    "TR": "Türkiye",
    "TW": "Taiwan",
    "TZ": "Tanzania",
    "UA": "Ukraine",
    "US": "United States",
    "VE": "Venezuela",
    "VN": "Vietnam",
    "ZA": "South Africa",
    "ZW": "Zimbabwe",
}

ROLE_LABELS = {
    "mine": "Mine",
    "trader": "Trader",
    "cutter": "Cutter",
    "grader": "Grader",
    "retailer": "Retailer",
    "participant": "Participant",
    "cert": "KP certificate",
}


def country_name(cc: str) -> str:
    """``Botswana`` for ``BW``; the code itself when the name is not known."""
    return COUNTRY_NAMES.get(cc, cc)


def explain_warning(rule: str, message: str) -> tuple[str, str]:
    """A heading and a plain-language paragraph for a WARN finding."""
    if rule in WARN_EXPLANATIONS:
        return WARN_EXPLANATIONS[rule]
    return (
        f"The rules engine flagged this entry ({rule})",
        f"The ledger accepted the entry but noted: {message}. A warning does not make the "
        "proof invalid; ask the participant about it.",
    )


def carats(points: int) -> str:
    """``1,250.00 ct`` from integer points (1/100 ct)."""
    return f"{points / 100:,.2f} ct"


def format_date(ms: int) -> str:
    """The UTC date of a ledger time, YYYY-MM-DD."""
    return lg.date_of(ms)


def format_datetime(ms: int) -> str:
    """The UTC minute of a ledger time, for the journey table."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
