"""Personal fields sealed in bronze under their subject's key, opened (or found erased) on the way out.

At ingest, every bronze row that names a subject (its payload's `user_id`, or a `"user_id"` in an
unreadable line) gets that subject's key (`keys.py`) in `subject_key`, and its personal values are
replaced by AES-GCM tokens: the payload's `user_id`, `email`, `phone` and coordinates, the envelope
`subject`, and an unreadable line's whole text. Everything else stays as it landed. Deleting the
subject's keys leaves their rows in place and their personal values unreadable for good.

A token is `enc:v1:` and base64 of nonce and ciphertext; the plaintext is the value's JSON text, so opening
gives back the value with its JSON type. The nonce is derived from where the value landed (file, line,
field): each position is sealed once per key, so a nonce never repeats under a key, and sealing the same
file again gives the same bytes (bronze stays reproducible).

Silver never sees a clear e-mail or phone: `open_for_silver` replaces them by keyed masks (an HMAC under a
key derived from the subject's key) that nobody can recompute from an e-mail without the key table, and
that no one can link to the subject once their keys are deleted.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable

import orjson
import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mobility_lake.personal import COORDINATES

TOKEN = "enc:v1:"
SUBJECT_FIELDS = ("user_id", "email", "phone")
SEALED_FIELDS = (*SUBJECT_FIELDS, *sorted(COORDINATES))
MASKED_FIELDS = ("email", "phone")
KEY_COLUMN = "subject_key"
ERASED = "_erased"
RAW_USER_ID = r'"user_id"\s*:\s*"((?:[^"\\]|\\.)*)"'
NONCE_BYTES = 12


def subject_of_rows() -> pl.Expr:
    """The subject a bronze row names: its payload's `user_id`, or one found in an unreadable line."""
    return pl.coalesce(
        pl.col("data").str.json_path_match("$.user_id"), pl.col("raw").str.extract(RAW_USER_ID, 1)
    )


def naming_a_subject(frame: pl.DataFrame) -> pl.Series:
    """Row indexes that may name a subject (a cheap literal search first) and the subject each names."""
    maybe = frame.select(
        (
            pl.col("data").str.contains('"user_id"', literal=True)
            | pl.col("raw").str.contains('"user_id"', literal=True)
        )
        .fill_null(False)
        .arg_true()
    ).to_series()
    subjects = frame[maybe].select(subject_of_rows()).to_series()
    return pl.DataFrame({"row": maybe, "user_id": subjects}).drop_nulls("user_id")


def seal(frame: pl.DataFrame, keys: dict[str, tuple[str, bytes]], named: pl.DataFrame) -> pl.DataFrame:
    """Bronze rows with the personal values of the rows in `named` (row, user_id) sealed under the keys of
    their subjects (user_id -> (key_id, key)), and `subject_key` set; other rows unchanged."""
    key_ids = pl.Series(KEY_COLUMN, [None] * frame.height, pl.String)
    if named.is_empty():
        return frame.with_columns(key_ids)
    rows = named["row"]
    subset = frame[rows].select("data", "subject", "raw", "landing_file", "record_number")
    data, subject, raw, used = [], [], [], []
    ciphers: dict[str, AESGCM] = {}
    for user_id, (text, subj, line, landing, number) in zip(
        named["user_id"], subset.iter_rows(), strict=True
    ):
        key_id, key = keys[user_id]
        cipher = ciphers.setdefault(key_id, AESGCM(key))
        where = f"{landing}\0{number}"
        data.append(_seal_payload(cipher, where, text))
        subject.append(None if subj is None else _seal(cipher, where, "subject", orjson.dumps(subj)))
        raw.append(None if line is None else _seal(cipher, where, "raw", orjson.dumps(line)))
        used.append(key_id)
    return frame.with_columns(
        frame["data"].scatter(rows, data),
        frame["subject"].scatter(rows, subject),
        frame["raw"].scatter(rows, raw),
        key_ids.scatter(rows, used),
    )


def _seal_payload(cipher: AESGCM, where: str, text: str | None) -> str | None:
    payload = _json(text)
    if not isinstance(payload, dict):
        return text
    for field in SEALED_FIELDS:
        value = payload.get(field)
        if value is not None:
            payload[field] = _seal(cipher, where, field, orjson.dumps(value))
    return orjson.dumps(payload).decode()


def _json(text: str | None) -> object:
    """The JSON value of a payload's text; the text itself when it is not JSON (silver rejects it)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _seal(cipher: AESGCM, where: str, field: str, plaintext: bytes) -> str:
    nonce = hashlib.sha256(f"{where}\0{field}".encode()).digest()[:NONCE_BYTES]
    sealed = cipher.encrypt(nonce, plaintext, field.encode())
    return TOKEN + base64.b64encode(nonce + sealed).decode()


def unseal(cipher: AESGCM | None, field: str, value: object) -> object:
    """A sealed value opened to its JSON value; None when the key is gone; any other value as it is."""
    if not (isinstance(value, str) and value.startswith(TOKEN)):
        return value
    if cipher is None:
        return None
    try:
        sealed = base64.b64decode(value[len(TOKEN) :])
        return orjson.loads(cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], field.encode()))
    except (InvalidTag, ValueError):  # a token damaged after sealing opens to nothing
        return None


def open_payload(cipher: AESGCM | None, text: str | None) -> dict | None:
    """A sealed payload as it landed (None for values whose key is gone)."""
    payload = _json(text)
    if isinstance(payload, dict):
        for field in SEALED_FIELDS:
            if field in payload:
                payload[field] = unseal(cipher, field, payload[field])
    return payload


def opened_rows(frame: pl.DataFrame, keys: dict[str, bytes]) -> pl.DataFrame:
    """Bronze rows with `data`, `subject` and `raw` opened in clear with `keys` (key_id -> key); a value
    whose key is not given comes back null."""
    ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
    data, subject, raw = [], [], []
    for key_id, text, subj, line in frame.select(KEY_COLUMN, "data", "subject", "raw").iter_rows():
        if key_id is None:
            data.append(text), subject.append(subj), raw.append(line)
            continue
        cipher = ciphers.get(key_id)
        payload = open_payload(cipher, text)
        data.append(orjson.dumps(payload).decode() if isinstance(payload, dict) else text)
        subject.append(unseal(cipher, "subject", subj))
        raw.append(unseal(cipher, "raw", line))
    return frame.with_columns(
        pl.Series("data", data, pl.String),
        pl.Series("subject", subject, pl.String),
        pl.Series("raw", raw, pl.String),
    )


def mask_key(key: bytes) -> bytes:
    """The masking key of a subject: derived from, and deleted with, their encryption key."""
    return hmac.new(key, b"mobility-lake mask v1", hashlib.sha256).digest()


def mask(key: bytes, field: str, value: object) -> str:
    """The keyed mask of an e-mail or phone: 24 hex digits of an HMAC of its text, normalised so that
    one address masks the same however it was written."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if field == "email":
        text = text.strip().lower()
    else:
        text = "".join(c for c in text if c.isdigit() or c == "+")
    return hmac.new(mask_key(key), f"{field}\0{text}".encode(), hashlib.sha256).hexdigest()[:24]


def open_for_silver(frame: pl.DataFrame, keys: Callable[[list[str]], dict[str, bytes]]) -> pl.DataFrame:
    """Bronze rows as silver reads them: sealed values opened, e-mail and phone replaced by their keyed
    masks, and `_erased` true where the subject's keys are gone (their personal values are then null).
    `keys(key_ids)` gives the keys that still exist. An e-mail or phone of a row without a subject has no
    key to be masked with and is dropped."""
    erased = pl.Series(ERASED, [False] * frame.height, pl.Boolean)
    candidates = frame.select(
        (
            pl.col(KEY_COLUMN).is_not_null()
            | pl.col("data").str.contains('"email"', literal=True)
            | pl.col("data").str.contains('"phone"', literal=True)
        )
        .fill_null(False)
        .arg_true()
    ).to_series()
    if candidates.is_empty():
        return frame.with_columns(erased)
    subset = frame[candidates].select("data", "subject", KEY_COLUMN)
    found = keys(subset[KEY_COLUMN].drop_nulls().unique().to_list())
    ciphers = {key_id: AESGCM(key) for key_id, key in found.items()}
    data, subject, gone = [], [], []
    for text, subj, key_id in subset.iter_rows():
        key = found.get(key_id) if key_id is not None else None
        cipher = ciphers.get(key_id) if key_id is not None else None
        payload = open_payload(cipher, text)
        if isinstance(payload, dict):
            for field in MASKED_FIELDS:
                if payload.get(field) is not None:
                    payload[field] = None if key is None else mask(key, field, payload[field])
        data.append(orjson.dumps(payload).decode() if isinstance(payload, dict) else text)
        opened = unseal(cipher, "subject", subj)
        subject.append(opened if opened is None or isinstance(opened, str) else orjson.dumps(opened).decode())
        gone.append(key_id is not None and key is None)
    return frame.with_columns(
        frame["data"].scatter(candidates, data),
        frame["subject"].scatter(candidates, subject),
        erased.scatter(candidates, gone),
    )
