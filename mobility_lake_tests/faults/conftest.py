"""The reference lake every fault trial is compared with: the suite's landing files, materialized once by
the light materialize without faults."""

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mobility_lake.gold.marts import MARTS
from mobility_lake.settings import load_settings
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.faults import END, HOURS, SIMULATOR_SEED, START, VEHICLES, Materialize, Reference
from mobility_lake_tests.faults.lake_state import tables, violations


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    began = time.monotonic()
    base = tmp_path_factory.mktemp("reference")
    root, home = base / "lake", base / "dagster_home"
    settings = load_settings({"MOBILITY_LAKE_ROOT": str(root), "MOBILITY_LAKE_START": "2026-03-01-00:00"})
    simulate(Lake(settings), START, HOURS, vehicles=VEHICLES, seed=SIMULATOR_SEED)
    run = Materialize.start(root, home, START, END)
    try:
        status = run.finish()
    finally:
        run.stop()
    assert status == 0, f"the reference materialize failed: {run.log.read_text()[-3000:]}"
    expected = 3 * len(SILVER_TABLES) + len(MARTS)  # bronze, silver and quarantine: one per topic
    assert len(tables(root)) == expected, f"expected {expected} tables: {tables(root)}"
    assert violations(root, root) == []
    spans, commits = run.stage_spans(), run.commits()
    stages = ", ".join(f"{stage} {a:.1f}-{b:.1f} s" for stage, (a, b) in spans.items())
    print(
        f"\nreference lake in {time.monotonic() - began:.1f} s; stages since process start: {stages}; "
        f"commits of files polars wrote {dict(commits)}"
    )
    return Reference(root, spans, commits)


@pytest.fixture
def fresh_lake(reference: Reference, tmp_path: Path) -> Callable[[str], Path]:
    """A new lake root under the test's directory holding the reference's landing files."""
    return lambda name: reference.landed_copy(tmp_path / name)
