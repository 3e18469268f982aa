"""Content defects on telemetry, vectorised: the few spoiled rows of a rendered slice, rewritten by polars.

The same kinds and shares as defects.py, drawn per row from its counter so a slice spoils the same rows
however it is chunked.
"""

from collections import Counter

import polars as pl

from mobility_lake.events.catalogue import TELEMETRY, TYPE_PREFIX
from mobility_lake.simulate.defects import CONTENT_KINDS, TELEMETRY_TYPE, UNKNOWN_TYPES, DefectShares
from mobility_lake.simulate.rng import stream_key, uniform_expr


def spoil_telemetry(
    flat: pl.DataFrame, shares: DefectShares, seed: int
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Vectorised content defects on rendered telemetry; adds `type` and `missing` (envelope attribute to drop).

    Only the few spoiled rows are rewritten (and moved to the end: the router re-sorts by arrival anyway).
    """
    u = uniform_expr(pl.col("counter"), stream_key(seed, "defects", "telemetry", "kind"))
    oor, unk = shares.out_of_range, shares.out_of_range + shares.unknown_type
    kind = (
        pl.when(u < oor)
        .then(pl.lit("out_of_range"))
        .when(u < unk)
        .then(pl.lit("unknown_type"))
        .when(u < unk + shares.missing_field)
        .then(pl.lit("missing_field"))
    )
    flat = flat.with_columns(kind=kind)
    spoiled = flat.filter(pl.col("kind").is_not_null())
    clean = (
        flat.filter(pl.col("kind").is_null())
        .drop("kind")
        .with_columns(type=pl.lit(TELEMETRY_TYPE), missing=pl.lit(None, pl.String))
    )
    counts = Counter(spoiled["kind"].to_list())
    if spoiled.height == 0:
        return clean, {k: 0 for k in CONTENT_KINDS}
    variant = uniform_expr(pl.col("counter"), stream_key(seed, "defects", "telemetry", "variant"))
    spoiled = spoiled.with_columns(variant=variant)
    slot = (pl.col("variant") * 5).floor()
    within = pl.col("variant") * 5 - slot  # uniform again inside the chosen bucket
    slot = slot.cast(pl.Int32)
    is_oor, is_missing = pl.col("kind") == "out_of_range", pl.col("kind") == "missing_field"
    oor_values = {  # field: (variant bucket of 5, impossible value)
        "battery_level": (0, 101 + within * 60),
        "latitude": (1, 91 + within * 40),
        "speed_kmh": (2, -(1 + within * 40)),
        "odometer_km": (3, -pl.col("odometer_km") - 1),
        "longitude": (4, -181 - within * 60),
    }
    missing = [*TELEMETRY, "time", "id"]
    mslot = (pl.col("variant") * len(missing)).floor().cast(pl.Int32)
    updates = {}
    for name in TELEMETRY:
        expr = pl.col(name)
        if name in oor_values:
            bucket, value = oor_values[name]
            expr = pl.when(is_oor & (slot == bucket)).then(value.round(2)).otherwise(expr)
        updates[name] = pl.when(is_missing & (mslot == missing.index(name))).then(None).otherwise(expr)
    unknown = [TYPE_PREFIX + t for t in UNKNOWN_TYPES["veh.events.raw"]]
    spoiled = spoiled.with_columns(
        **updates,
        type=pl.when(pl.col("kind") == "unknown_type")
        .then(pl.when(pl.col("variant") < 0.5).then(pl.lit(unknown[0])).otherwise(pl.lit(unknown[1])))
        .otherwise(pl.lit(TELEMETRY_TYPE)),
        missing=pl.when(is_missing & (mslot >= len(TELEMETRY))).then(
            pl.when(mslot == len(TELEMETRY)).then(pl.lit("time")).otherwise(pl.lit("id"))
        ),
    ).drop("kind", "variant")
    return pl.concat([clean, spoiled.select(clean.columns)]), {k: counts.get(k, 0) for k in CONTENT_KINDS}
