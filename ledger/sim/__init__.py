from ledger.sim.simulate import (
    FAULT_KINDS,
    KNOWN_GAPS,
    OPERATOR,
    SimReport,
    iter_lines,
    simulate,
)

__all__ = ["FAULT_KINDS", "KNOWN_GAPS", "OPERATOR", "SimReport", "iter_lines", "simulate"]
