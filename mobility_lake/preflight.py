"""Checks, once before a command starts, that the lake root and the Dagster home can be used.

A root that is a file, a directory that cannot be created or written, an `s3://` root with no credentials
or no reachable bucket: each is a one-line `SettingsError` naming the variable (exit 2), not a traceback
from inside a run or a wait on cloud metadata endpoints.
"""

import uuid
from pathlib import Path

from mobility_lake.settings import Settings, SettingsError, check_directory


def check_root(settings: Settings, writes: bool) -> None:
    """The root can be read (and written, for a command that `writes`)."""
    if settings.s3 is None:
        check_directory(Path(settings.root), "MOBILITY_LAKE_ROOT")
    else:
        check_bucket(settings, writes)


def check_bucket(settings: Settings, writes: bool) -> None:
    """Credentials resolve (metadata endpoints get one 1-second try) and the bucket answers; for a command
    that writes, the store refuses a second create of the same key (`If-None-Match: *`): delta-rs commits
    a version by creating its log file that way, and a store that overwrites instead can lose a commit to
    a concurrent writer."""
    import botocore.config  # only for s3:// roots: a local command does not pay for the import
    import botocore.exceptions
    import botocore.session

    s3 = settings.s3
    assert s3 is not None
    bucket = settings.root.removeprefix("s3://").split("/", 1)[0]
    where = s3.endpoint_url or "AWS S3"
    session = botocore.session.get_session()
    session.set_config_variable("metadata_service_timeout", 1)
    session.set_config_variable("metadata_service_num_attempts", 1)
    if not s3.access_key_id and session.get_credentials() is None:
        raise SettingsError(
            "MOBILITY_LAKE_ROOT is an s3:// root but no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )
    client = session.create_client(
        "s3",
        region_name=s3.region or "us-east-1",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        config=botocore.config.Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise SettingsError(
                f"MOBILITY_LAKE_ROOT is '{settings.root}': bucket '{bucket}' does not exist at {where}"
            ) from None
        raise SettingsError(
            f"MOBILITY_LAKE_ROOT is '{settings.root}': {where} refused access to bucket '{bucket}' (HTTP {status}); "
            "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        raise SettingsError(
            f"MOBILITY_LAKE_ROOT is '{settings.root}': {where} cannot be reached ({type(exc).__name__}); check "
            "AWS_ENDPOINT_URL and the network"
        ) from None
    if writes:
        check_conditional_writes(client, settings.root, where)


def check_conditional_writes(client, root: str, where: str) -> None:
    import botocore.exceptions

    bucket, _, prefix = root.removeprefix("s3://").partition("/")
    key = f"{prefix}/_mobility_lake/conditional-write-probe-{uuid.uuid4().hex}".lstrip("/")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"probe", IfNoneMatch="*")
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"probe", IfNoneMatch="*")
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                return
            raise
        raise SettingsError(
            f"MOBILITY_LAKE_ROOT is '{root}': {where} overwrote an object written with If-None-Match: *; "
            "Delta commits need a store with conditional writes (AWS S3, MinIO, SeaweedFS)"
        )
    except botocore.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise SettingsError(
            f"MOBILITY_LAKE_ROOT is '{root}': {where} refused a write (HTTP {status})"
        ) from None
    finally:
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError:
            pass
