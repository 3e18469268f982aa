"""The fleet simulator: realistic landing files (CONTRACT §2) for a shared-mobility fleet, defects included.

`simulate(lake, start, hours, ...)` writes every topic's files for the hours from `start`; `DefectShares` sets
how much of the output is duplicated, late, malformed or otherwise wrong; `SimulationSummary` reports what
was written. Same arguments, same bytes.
"""

from mobility_lake.simulate.defects import DefectShares
from mobility_lake.simulate.run import SimulationSummary, simulate

__all__ = ["DefectShares", "SimulationSummary", "simulate"]
