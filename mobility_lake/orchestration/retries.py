"""Transient failures retry the step with backoff; anything else fails it at once.

A lost commit race is retried inside the storage module; when it is lost every time, or the object store
or file system errs, the whole step is worth another try after a pause: each try reads its inputs afresh
and every write is idempotent. A failed data-quality check is not an error of this kind and never retries.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from deltalake.exceptions import CommitFailedError

TRANSIENT = (OSError, CommitFailedError)
MAX_RETRIES = 3
FIRST_WAIT_SECONDS = 5


@contextmanager
def retry_transient(context: dg.AssetExecutionContext) -> Iterator[None]:
    try:
        yield
    except TRANSIENT as exc:
        wait = FIRST_WAIT_SECONDS * 2**context.retry_number
        context.log.warning(
            f"transient {type(exc).__name__}; try {context.retry_number + 2} of {MAX_RETRIES + 1} in {wait} s"
        )
        raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=wait) from exc
