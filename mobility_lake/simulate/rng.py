"""Deterministic randomness without numpy: seeded stdlib generators and a counter-based splitmix64.

The event-by-event path draws from `random.Random` seeded with a string (stable across processes, unlike
`hash()`). The vectorised telemetry path uses splitmix64 as polars expressions: every row gets its random
numbers from (row counter, stream key), so the result does not depend on how rows are chunked. Ids come
from the same bijective mix of a unique counter, so they are unique by construction, not by luck.
"""

import hashlib
import random

import polars as pl
import pyarrow as pa

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def stream_key(seed: int, *labels: object) -> int:
    """A 64-bit key for one named stream of one seed (blake2b: stable everywhere)."""
    text = ":".join(str(part) for part in (seed, *labels))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def generator(seed: int, *labels: object) -> random.Random:
    """A stdlib generator for one named stream; str seeds are hashed with sha512, so stable across runs."""
    return random.Random(":".join(str(part) for part in (seed, *labels)))


def mix64(value: int) -> int:
    """The splitmix64 finaliser: a bijection on 64-bit integers."""
    value &= MASK64
    value = ((value ^ (value >> 30)) * _M1) & MASK64
    value = ((value ^ (value >> 27)) * _M2) & MASK64
    return value ^ (value >> 31)


def bits64(counter: int, key: int) -> int:
    """64 random-looking bits, distinct for distinct counters under the same key."""
    return mix64(counter * GAMMA + key)


class IdSequence:
    """Unique hex ids for one run: the bijective mix of a counter that starts at a run-specific base."""

    def __init__(self, key: int, base: int):
        self.key = key
        self.next = base

    def hex(self) -> str:
        value = bits64(self.next, self.key)
        self.next += 1
        return value.to_bytes(8, "little").hex()  # the byte order `hex_series` uses


def _u64(value: int) -> pl.Expr:
    return pl.lit(value & MASK64, dtype=pl.UInt64)


def bits_expr(counter: pl.Expr, key: int) -> pl.Expr:
    """`bits64` as a polars expression over a UInt64 counter column (polars integer arithmetic wraps)."""
    x = counter * _u64(GAMMA) + _u64(key)
    x = (x ^ (x // _u64(1 << 30))) * _u64(_M1)
    x = (x ^ (x // _u64(1 << 27))) * _u64(_M2)
    return x ^ (x // _u64(1 << 31))


def uniform_expr(counter: pl.Expr, key: int) -> pl.Expr:
    """A uniform float in [0, 1) per row, from the top 53 bits."""
    return (bits_expr(counter, key) // _u64(1 << 11)).cast(pl.Float64) * (2.0**-53)


def hex_series(values: pl.Series) -> pl.Series:
    """16 hex digits per UInt64 value, vectorised: the 8 bytes viewed as fixed-size binary, hex-encoded."""
    array = values.cast(pl.UInt64).rechunk().to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    raw = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(8), len(array), [None, array.buffers()[1]], array.offset
    )
    return pl.Series(values.name, pl.from_arrow(raw).bin.encode("hex"))
