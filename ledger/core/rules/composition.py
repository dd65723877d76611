"""Origin composition (R-OR-1): mass-weighted shares in parts per million, and display."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Millions: origin shares are integer parts per million that sum to exactly 1,000,000.
PPM = 1_000_000


def mix_compositions(parts: Sequence[tuple[int, Mapping[str, int]]]) -> dict[str, int]:
    """Mass-weighted origin shares in ppm that sum to exactly 1,000,000 (R-OR-1).

    ``parts`` are ``(carats, composition)`` pairs. The remainder of integer division is
    handed out by largest remainder, ties to the alphabetically first country.
    """
    total = sum(c for c, _ in parts)
    if total <= 0:
        raise ValueError("mixing needs a positive total mass")
    numer: dict[str, int] = {}
    for carats, comp in parts:
        for country, share in comp.items():
            numer[country] = numer.get(country, 0) + carats * share
    floors = {c: n // total for c, n in numer.items()}
    missing = PPM - sum(floors.values())
    order = sorted(numer, key=lambda c: (-(numer[c] % total), c))
    for c in order[:missing]:
        floors[c] += 1
    return {c: s for c, s in sorted(floors.items()) if s > 0}


def format_composition(comp: Mapping[str, int]) -> str:
    """``BW 62.50% · CA 37.50%`` (largest share first)."""
    # Round to hundredths of a percent by largest remainder so the shown shares add to 100.00%.
    total = sum(comp.values())
    if total <= 0:
        return ""
    scaled = {c: s * 10000 // total for c, s in comp.items()}
    rest = 10000 - sum(scaled.values())
    for c in sorted(comp, key=lambda c: (-(comp[c] * 10000 % total), c))[:rest]:
        scaled[c] += 1
    items = sorted(scaled.items(), key=lambda kv: (-kv[1], kv[0]))
    return " · ".join(f"{c} {s // 100}.{s % 100:02d}%" for c, s in items)
