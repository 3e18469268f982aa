"""The one module that knows where tables and landing files live and how to write them safely.

Local directories and `s3://` roots go through the same code: delta-rs for tables (with the AWS settings as
storage options) and fsspec (s3fs on S3) for landing files. Writes replace exactly a predicate's rows in one
Delta commit, so a re-run is idempotent and a crash leaves the previous version readable; a commit that
loses a race with another writer is retried against the new version.
"""

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fsspec
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, Field, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction

from mobility_lake import data_files
from mobility_lake.personal import STATS_COLUMNS_PROPERTY, stats_columns
from mobility_lake.settings import Settings

LAYERS = ("bronze", "silver", "gold", "quarantine", "keys", "audit", "archive")
COMMIT_ATTEMPTS = 6
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectInfo:
    """A listed file: its path relative to the lake root, size and last-modified time (epoch seconds)."""

    key: str
    size: int
    mtime: float


def sql_literal(value: str | datetime) -> str:
    """A SQL string literal for a delta-rs predicate, quotes escaped (delta-rs takes no bound parameters)."""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def window_predicate(column: str, start: datetime, end: datetime, date_column: str | None = None) -> str:
    """The rows whose `column` lies in [start, end); naming the date partition column of a window within one
    day lets delta-rs touch that date's files only."""
    predicate = f"{column} >= {sql_literal(start)} AND {column} < {sql_literal(end)}"
    if date_column is None:
        return predicate
    return f"{date_column} = {sql_literal(start.date().isoformat())} AND {predicate}"


class Lake:
    """Table and landing-file access for one lake root."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.root
        self.storage_options = _delta_options(settings)
        self._fs: fsspec.AbstractFileSystem | None = None

    # -- tables -------------------------------------------------------------------------------------------

    def table_uri(self, layer: str, table: str) -> str:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer '{layer}': expected one of {', '.join(LAYERS)}")
        return f"{self.root}/{layer}/{table}"

    def delta_table(self, layer: str, table: str) -> DeltaTable | None:
        """The table, or None while nothing has been written to it."""
        try:
            return DeltaTable(self.table_uri(layer, table), storage_options=self.storage_options or None)
        except TableNotFoundError:
            return None

    def scan(self, layer: str, table: str) -> pl.LazyFrame | None:
        """A lazy scan of the table's current version, or None when it does not exist yet."""
        if self.delta_table(layer, table) is None:
            return None
        return pl.scan_delta(self.table_uri(layer, table), storage_options=self.storage_options or None)

    def read(self, layer: str, table: str) -> pl.DataFrame:
        scan = self.scan(layer, table)
        return pl.DataFrame() if scan is None else scan.collect()

    def replace_where(
        self,
        layer: str,
        table: str,
        data: pl.DataFrame,
        predicate: str,
        partition_by: list[str] | None = None,
        rebuild: Callable[[], pl.DataFrame] | None = None,
        row_group_rows: int | None = None,
    ) -> None:
        """Replace exactly the rows matching `predicate` with `data`, in one commit, retrying lost races.

        An empty `data` clears the predicate's rows: stale rows never survive a re-run. The table is created
        first when missing, since delta-rs does not guard a write that creates a table. Rows made from other
        tables pass `rebuild`: a retry after a lost race writes rows made again from what the winner saw,
        never the rows made before it committed.
        """
        self.ensure_table(layer, table, data.schema, partition_by)
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            rows = data if attempts == 0 or rebuild is None else rebuild()
            attempts += 1
            self._write_streaming(
                layer,
                table,
                rows.schema,
                lambda: [rows],
                predicate,
                partition_by,
                row_group_rows=row_group_rows,
            )

        self._commit(attempt, self.table_uri(layer, table))

    def _write_streaming(
        self,
        layer: str,
        table: str,
        schema: pl.Schema,
        frames: Callable[[], Iterable[pl.DataFrame]],
        predicate: str,
        partition_by: list[str] | None,
        guarded: tuple[DeltaTable, str] | None = None,
        compression_level: int | None = None,
        row_group_rows: int | None = None,
    ) -> None:
        """delta-rs's writer replacing `predicate`'s rows with the frames `frames()` yields, as it consumes
        them, under `guarded`'s guard when given (zstd at `compression_level`, row groups of at most
        `row_group_rows` rows, when given)."""
        arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema

        def batches() -> Iterator[pa.RecordBatch]:
            for frame in frames():
                yield from frame.to_arrow().cast(arrow_schema).to_batches()

        write_deltalake(
            self.table_uri(layer, table),
            pa.RecordBatchReader.from_batches(arrow_schema, batches()),
            mode="overwrite",
            predicate=predicate,
            partition_by=partition_by,
            storage_options=self.storage_options or None,
            commit_properties=None if guarded is None else data_files.guard_properties(*guarded),
            writer_properties=None
            if compression_level is None and row_group_rows is None
            else WriterProperties(
                compression="ZSTD", compression_level=compression_level, max_row_group_size=row_group_rows
            ),
        )

    def replace_streaming(
        self,
        layer: str,
        table: str,
        schema: pl.Schema,
        frames: Callable[[], Iterable[pl.DataFrame]],
        predicate: str,
        partition_by: list[str],
        compression_level: int | None = None,
    ) -> None:
        """Replace `predicate`'s rows with the frames `frames()` yields, one at a time, in one commit."""
        self.ensure_table(layer, table, schema, partition_by)
        self._commit(
            lambda: self._write_streaming(
                layer, table, schema, frames, predicate, partition_by, compression_level=compression_level
            ),
            self.table_uri(layer, table),
        )

    def delete_where(self, layer: str, table: str, predicate: str) -> tuple[int, list[str]]:
        """Delete `predicate`'s rows in one commit; the rows deleted and the data files (relative to the
        table) that the commit took out of the current version."""
        deleted = 0
        before: set[str] = set()

        def attempt() -> None:
            nonlocal deleted, before
            table_now = self._existing(layer, table)
            before = data_files.current_files(table_now)
            deleted = int(table_now.delete(predicate).get("num_deleted_rows", 0))

        self._commit(attempt, self.table_uri(layer, table))
        return deleted, sorted(before - data_files.current_files(self._existing(layer, table)))

    def append(
        self, layer: str, table: str, data: pl.DataFrame, partition_by: list[str] | None = None
    ) -> None:
        """Append `data` in one commit (appends never conflict), creating the table first when missing."""
        self.ensure_table(layer, table, data.schema, partition_by)
        self._commit(
            lambda: write_deltalake(
                self.table_uri(layer, table),
                data.to_arrow(),
                mode="append",
                partition_by=partition_by,
                storage_options=self.storage_options or None,
            ),
            self.table_uri(layer, table),
        )

    def write_window(
        self,
        layer: str,
        table: str,
        data: pl.DataFrame,
        column: str,
        start: datetime,
        end: datetime,
        partition_by: list[str] | None = None,
    ) -> None:
        """Idempotently replace the rows whose `column` lies in [start, end)."""
        self.replace_where(layer, table, data, window_predicate(column, start, end), partition_by)

    def ensure_table(
        self, layer: str, table: str, schema: pl.Schema, partition_by: list[str] | None = None
    ) -> None:
        """Create the table empty with `schema` unless it exists; safe when several runs race to create it.

        The table names the columns whose statistics its log may keep (`personal.py`); a table made before
        that rule gets the property on its next write, and a table made before a column was added gets the
        column (null in its older rows)."""
        uri = self.table_uri(layer, table)
        arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
        stats = {STATS_COLUMNS_PROPERTY: ",".join(stats_columns(schema, partition_by))}
        existing = self.delta_table(layer, table)
        if existing is None:  # `ignore`: a racing creator may have made it since
            self._commit(
                lambda: DeltaTable.create(
                    uri,
                    arrow_schema,
                    partition_by=partition_by,
                    mode="ignore",
                    configuration=stats,
                    storage_options=self.storage_options or None,
                ),
                uri,
            )
            existing = self._existing(layer, table)
        if existing.metadata().configuration.get(STATS_COLUMNS_PROPERTY) is None:
            self._commit(lambda: existing.alter.set_table_properties(stats), uri)
        missing = [name for name in schema if name not in data_files.table_schema(existing)]
        if missing:  # a column added since the table was made (bronze's subject_key): older rows read null
            fields = [Field.from_arrow(arrow_schema.field(name).with_nullable(True)) for name in missing]
            self._commit(lambda: self._existing(layer, table).alter.add_columns(fields), uri)

    def append_guarded(
        self,
        layer: str,
        table: str,
        prepare: Callable[[], tuple[Iterable[pl.DataFrame], str] | None],
        partition_by: list[str] | None = None,
    ) -> None:
        """Append what `prepare` returns, guarded against a concurrent writer of the same rows.

        `prepare` reads the table and returns the new rows, as frames each written into data files while
        the next is made, with the name of a guard that every writer of such rows commits under (e.g. "this arrival hour"): the commit then fails, rather than duplicates,
        when another writer committed under the same guard since the table was read, and `prepare` runs
        again against the new version. It returns None when there is nothing left to add. Polars writes
        the data files and delta-rs commits them (`data_files.py`). The table must exist (`ensure_table`).
        """

        def attempt() -> None:
            before = self._existing(layer, table)  # read before `prepare`: any later commit is concurrent
            prepared = prepare()
            if prepared is None:
                return
            frames, guard = prepared
            adds = self._write_in_background(layer, table, before, frames, partition_by or [])
            try:
                data_files.commit(before, adds, guard, partition_by)
            except BaseException:
                self._remove_files(layer, table, adds)
                raise

        self._commit(attempt, self.table_uri(layer, table))

    def replace_window_streaming(
        self,
        layer: str,
        table: str,
        schema: pl.Schema,
        frames: Callable[[], Iterable[pl.DataFrame]],
        column: str,
        start: datetime,
        end: datetime,
        date_column: str,
    ) -> None:
        """Replace the rows whose `column` lies in [start, end), within one day partitioned by
        `date_column`, with the frames `frames()` yields, in one commit.

        When every file of that day lies wholly inside or wholly outside the window, as the files written
        here do, polars writes the new files while the next frame is made, and delta-rs commits them with
        the removal of the window's old files; a commit that loses to a writer of another window is
        committed again, not made again (`data_files.commit_window`). Otherwise delta-rs rewrites the day's
        straddling files (`replace_where`). Both ways commit under the window's guard, so concurrent
        writers of one window conflict, whichever way each goes, and the loser makes its rows again.
        """
        guard = f"window {column} {start.isoformat()}"
        predicate = window_predicate(column, start, end, date_column)
        partition = {date_column: start.date().isoformat()}
        self.ensure_table(layer, table, schema, [date_column])

        def attempt() -> None:
            before = self._existing(layer, table)
            removes = data_files.files_of_window(before, column, start, end, partition)
            if removes is None:
                log.info("%s/%s: a file straddles %s; delta-rs rewrites the day", layer, table, guard)
                self._write_streaming(layer, table, schema, frames, predicate, [date_column], (before, guard))
                return
            adds = self._write_in_background(layer, table, before, frames(), [date_column])
            try:
                committed = data_files.commit_window(
                    before,
                    lambda: self._existing(layer, table),
                    adds,
                    guard,
                    (column, start, end, partition),
                    COMMIT_ATTEMPTS,
                )
            except BaseException:
                self._remove_files(layer, table, adds)
                raise
            if not committed:
                self._remove_files(layer, table, adds)
                raise CommitFailedError(f"another writer replaced {guard} first")

        self._commit(attempt, self.table_uri(layer, table))

    def _write_in_background(
        self,
        layer: str,
        table: str,
        before: DeltaTable,
        frames: Iterable[pl.DataFrame],
        partition_by: list[str],
    ) -> list[AddAction]:
        """Write each frame's files in a second thread while the next frame is made: polars encodes
        Parquet without the GIL, so making and writing overlap. At most one frame waits to be written."""
        write = self._file_writer(layer, table)
        schema = data_files.table_schema(before)
        adds: list[AddAction] = []
        with ThreadPoolExecutor(1, thread_name_prefix="data-files") as writer:
            pending: Future[list[AddAction]] | None = None
            try:
                for frame in frames:
                    if pending is not None:
                        adds += pending.result()
                    pending = writer.submit(data_files.write_data_files, frame, schema, partition_by, write)
                if pending is not None:
                    adds += pending.result()
            except BaseException:
                if pending is not None:
                    adds += _result_or_nothing(pending)
                self._remove_files(layer, table, adds)
                raise
        return adds

    def _remove_files(self, layer: str, table: str, adds: list[AddAction]) -> None:
        """Remove written data files no commit refers to."""
        for add in adds:
            self.remove_file(f"{layer}/{table}/{add.path}")

    def _file_writer(self, layer: str, table: str) -> Callable[[str, bytes], None]:
        return lambda path, payload: self.write_bytes(f"{layer}/{table}/{path}", payload)

    def _existing(self, layer: str, table: str) -> DeltaTable:
        found = self.delta_table(layer, table)
        if found is None:
            raise TableNotFoundError(f"{layer}/{table} must be created (ensure_table) before writing to it")
        return found

    def _commit(self, write: Callable[[], Any], uri: str) -> None:
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                write()
                return
            except CommitFailedError:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                log.warning("commit to %s lost a race with another writer; retry %d", uri, attempt)
                time.sleep(0.2 * 2**attempt)

    # -- landing files ------------------------------------------------------------------------------------

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        if self._fs is None:
            self._fs = _filesystem(self.settings)
        return self._fs

    def path(self, key: str) -> str:
        """A key relative to the root as the file system names it (no `s3://`)."""
        return f"{self.root.removeprefix('s3://')}/{key}"

    def list_files(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every file under `prefix` (relative to the root), listed page by page; refreshed each call."""
        base = self.root.removeprefix("s3://")
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self.path(prefix), detail=True)
        except FileNotFoundError:
            return
        for path, info in sorted(found.items()):
            if info.get("type") == "directory":
                continue
            yield ObjectInfo(key=path[len(base) + 1 :], size=int(info.get("size") or 0), mtime=_mtime(info))

    def read_bytes(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def remove_file(self, key: str) -> None:
        self.fs.rm_file(self.path(key))

    def write_bytes(self, key: str, payload: bytes) -> None:
        """Write a file whole: local files are written aside and renamed, S3 objects are one PUT."""
        path = self.path(key)
        if self.settings.is_s3:
            self.fs.pipe_file(path, payload)
            return
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.tmp-writing"
        self.fs.pipe_file(tmp, payload)
        self.fs.mv(tmp, path)


def _result_or_nothing(pending: Future) -> list:
    try:
        return pending.result()
    except Exception:
        return []


def _mtime(info: dict[str, Any]) -> float:
    value = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _delta_options(settings: Settings) -> dict[str, str]:
    if settings.s3 is None:
        return {}
    s3 = settings.s3
    options = {
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
        "AWS_REGION": s3.region or "us-east-1",
        "AWS_ALLOW_HTTP": "true" if s3.allow_http else None,
    }
    return {k: v for k, v in options.items() if v}


def _filesystem(settings: Settings) -> fsspec.AbstractFileSystem:
    if settings.s3 is None:
        return fsspec.filesystem("file", auto_mkdir=True)
    s3 = settings.s3
    client_kwargs: dict[str, str] = {"region_name": s3.region or "us-east-1"}
    if s3.endpoint_url:
        client_kwargs["endpoint_url"] = s3.endpoint_url
    return fsspec.filesystem(
        "s3",
        key=s3.access_key_id,
        secret=s3.secret_access_key,
        client_kwargs=client_kwargs,
        use_listings_cache=False,
        skip_instance_cache=True,
    )
