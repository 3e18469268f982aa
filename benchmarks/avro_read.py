"""Reading an Avro telemetry file: polars' reader (what bronze uses for the CloudEvent shape) against
fastavro (what it uses for any other schema), on the same file in each container codec.

The file is `--rows` telemetry events of the seed hour (`seed_input.events`) as the simulator writes them
(`TELEMETRY_AVRO`: optional string attributes, `data` a record of the typed payload fields), written by
fastavro. Timed, best of `--repeat`, each on the file's bytes in memory:
- bronze: `records_from_file`, the whole of bronze's reading: framing, decompression, polars, bronze rows;
- polars: `avro.read_frame` alone (framing, decompression and polars' decoding into a frame);
- fastavro: `fastavro.reader` into dicts, then a polars frame of them (the same frame, typed by polars);
- fastavro_text: bronze's fastavro path (`avro.fastavro_frame`: every field as text), what a schema
  polars cannot read costs.

    .venv/bin/python benchmarks/avro_read.py [--rows 2000000] [--repeat 3]
"""

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import numpy as np
import polars as pl

from mobility_lake.bronze import avro
from mobility_lake.bronze.records import records_from_file
from mobility_lake.events.catalogue import TELEMETRY
from mobility_lake.simulate.writer import AVRO_CODECS, TELEMETRY_AVRO

BENCHMARKS = Path(__file__).resolve().parent
HOUR = datetime(2026, 3, 10, 8, tzinfo=UTC)


def best(repeat: int, work: Callable[[], int]) -> tuple[float, int]:
    """The fastest of `repeat` runs, in seconds, and the rows the work returned."""
    times, rows = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        rows = work()
        times.append(time.perf_counter() - began)
    return min(times), rows


def readers(payload: bytes, struct: pl.Struct) -> dict[str, Callable[[], int]]:
    return {
        "bronze": lambda: records_from_file("t.avro", payload, struct).height,
        "polars": lambda: avro.read_frame(avro.read_container(payload))[0].height,
        "fastavro": lambda: pl.DataFrame(list(fastavro.reader(io.BytesIO(payload)))).height,
        "fastavro_text": lambda: avro.fastavro_frame(avro.read_container(payload))[0].height,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCHMARKS / "results")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCHMARKS))
    from seed_input import events

    frame = events(np.arange(args.rows, dtype=np.int64), max(1, args.rows // 3600), HOUR)
    struct = pl.Struct(TELEMETRY)
    results = []
    for codec in AVRO_CODECS:
        began = time.perf_counter()
        buffer = io.BytesIO()
        fastavro.writer(buffer, TELEMETRY_AVRO, frame.iter_rows(named=True), codec=codec)
        payload = buffer.getvalue()
        written = time.perf_counter() - began
        figures = {"codec": codec, "mib": round(len(payload) / 2**20, 1), "write_s": round(written, 1)}
        for name, read in readers(payload, struct).items():
            seconds, rows = best(args.repeat, read)
            assert rows == args.rows, (name, codec, rows)
            figures[f"{name}_s"] = round(seconds, 2)
        print(json.dumps(figures), flush=True)
        results.append(figures)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"avro_read_{args.rows}.json"
    out.write_text(json.dumps({"rows": args.rows, "results": results}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
