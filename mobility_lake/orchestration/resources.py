"""The lake as a Dagster resource: the root and lateness as visible config, credentials only from the env.

Secrets never enter run config (which the UI shows): the resource reads the AWS variables from the
environment of the process that runs the step, validated like every other setting.
"""

import os
from collections.abc import Callable

import dagster as dg

from mobility_lake.lake_lock import wait_while_locked
from mobility_lake.settings import Settings, load_settings
from mobility_lake.storage import Lake


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives; `lake()` gives the storage module's handle for it."""

    root: str
    lateness_hours: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "LakeResource":
        return cls(root=settings.root, lateness_hours=settings.lateness_hours)

    def settings(self) -> Settings:
        env = dict(os.environ)
        env["MOBILITY_LAKE_ROOT"] = self.root
        env["MOBILITY_LAKE_LATENESS_HOURS"] = str(self.lateness_hours)
        return load_settings(env)

    def lake(self) -> Lake:
        return Lake(self.settings())

    def writing(self, say: Callable[[str], None]) -> Lake:
        """The lake for a run that writes: once no erasure holds it (`lake_lock.py`)."""
        handle = self.lake()
        wait_while_locked(handle, say)
        return handle


class QualityPolicy(dg.ConfigurableResource):
    """Thresholds of the data-quality checks, from MOBILITY_LAKE_MAX_QUARANTINE_SHARE and
    MOBILITY_LAKE_QUARANTINE_MIN_ROWS; shown in the UI's launchpad, where one run may override them."""

    max_quarantine_share: float
    quarantine_min_rows: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "QualityPolicy":
        return cls(
            max_quarantine_share=settings.max_quarantine_share,
            quarantine_min_rows=settings.quarantine_min_rows,
        )
