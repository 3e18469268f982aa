"""Status segments: the compact, columnar record of what every vehicle did, rendered into telemetry later.

A segment is one vehicle in one status from t0 to t1 moving linearly from one point, battery and
odometer reading to another. Kept as plain column lists (not objects) because a long run of a large fleet
has hundreds of thousands of them.
"""

import polars as pl

COLUMNS = {
    "vidx": pl.UInt32,
    "t0": pl.Int64,
    "t1": pl.Int64,
    "status": pl.String,
    "lat0": pl.Float64,
    "lon0": pl.Float64,
    "lat1": pl.Float64,
    "lon1": pl.Float64,
    "bat0": pl.Float64,
    "bat1": pl.Float64,
    "odo0": pl.Float64,
    "odo1": pl.Float64,
    "speed": pl.Float64,
    "wobble": pl.Float64,
}


class SegmentLog:
    """Append-only columns of segments; `frame()` hands them to polars once the fleet has run."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in COLUMNS}

    def add(
        self,
        vidx: int,
        t0: int,
        t1: int,
        status: str,
        lat0: float,
        lon0: float,
        lat1: float,
        lon1: float,
        bat0: float,
        bat1: float,
        odo0: float,
        odo1: float,
        speed: float = 0.0,
        wobble: float = 0.0,
    ) -> None:
        if t1 <= t0:
            return
        values = (vidx, t0, t1, status, lat0, lon0, lat1, lon1, bat0, bat1, odo0, odo1, speed, wobble)
        for column, value in zip(self.columns.values(), values, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.columns["t0"])

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.columns, schema=COLUMNS)
