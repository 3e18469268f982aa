"""Reading the CloudEvents envelope: event time as RFC 3339, vectorised."""

import polars as pl

RFC3339 = "%Y-%m-%dT%H:%M:%S%.f%:z"


def parse_event_time(column: pl.Expr) -> pl.Expr:
    """RFC 3339 text to a UTC timestamp; null for anything else (no offset, impossible dates, junk).

    RFC 3339 allows `Z` or `z` for UTC and a space or lower-case `t` between date and time.
    """
    normalised = column.str.replace(r"^(\d{4}-\d{2}-\d{2})[ t]", "${1}T").str.replace(r"[Zz]$", "+00:00")
    return normalised.str.to_datetime(RFC3339, strict=False, time_zone="UTC", time_unit="us")
