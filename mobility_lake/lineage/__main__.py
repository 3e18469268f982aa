"""`python -m mobility_lake.lineage`: probe the code and rewrite `columns.json`."""

import sys
import time

from mobility_lake.lineage.model import LINEAGE_FILE, dumps
from mobility_lake.lineage.probe import probed_lineage


def main() -> int:
    began = time.perf_counter()
    lineage = probed_lineage()
    LINEAGE_FILE.write_text(dumps(lineage))
    deps = sum(len(found) for columns in lineage.values() for found in columns.values())
    print(
        f"wrote {LINEAGE_FILE.name}: {len(lineage)} tables, {deps} column dependencies, "
        f"probed in {time.perf_counter() - began:.1f} s"
    )
    return 0


if __name__ == "__main__":  # not in the probe's worker processes, which import this module too
    sys.exit(main())
