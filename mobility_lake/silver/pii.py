"""Masking of direct identifiers before they reach silver.

`email` and `phone` are replaced by a masked form that keeps what support and analytics need (the email's
first character and domain, the phone's country prefix and last two digits) and nothing that identifies a
person. The masking is one-way: silver never holds the plaintext. `user_id` is the pseudonymous key a GDPR
request resolves to (the operational customer database maps an email or phone to it); silver rows of a
person, and the positions that come with them, are found by `user_id`.
"""

import polars as pl


def mask_email(column: pl.Expr) -> pl.Expr:
    """`anna.k@example.com` -> `a***@example.com`; anything without one `@` -> `***`."""
    local = column.str.extract(r"^([^@\s])[^@\s]*@[^@\s]+$", 1)
    domain = column.str.extract(r"^[^@\s]+@([^@\s]+)$", 1)
    return (
        pl.when(column.is_null())
        .then(None)
        .when(local.is_null())
        .then(pl.lit("***"))
        .otherwise(pl.concat_str([local, pl.lit("***@"), domain]))
    )


def mask_phone(column: pl.Expr) -> pl.Expr:
    """`+49 30 1234567` -> `+49*****67`: country prefix and last two digits; fewer than 6 digits -> `***`."""
    digits = column.str.replace_all(r"[^0-9]", "")
    prefix = column.str.extract(r"^\s*(\+\d{1,2})", 1).fill_null("")
    return (
        pl.when(column.is_null())
        .then(None)
        .when(digits.str.len_chars() < 6)
        .then(pl.lit("***"))
        .otherwise(pl.concat_str([prefix, pl.lit("*****"), digits.str.slice(-2)]))
    )
