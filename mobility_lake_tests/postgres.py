"""A real PostgreSQL server for tests: PostgreSQL 16 from the `pgserver` wheel, in a temporary data directory,
answering on 127.0.0.1 at a free port, as a database server answers the platform in production.

`pgserver.get_server` does the set-up (initdb; as root it runs the server as an unprivileged user, since
postgres refuses root) and starts the server on a Unix socket; the server is then restarted on TCP. It is
stopped when the session ends. Each test gets a database of its own.
"""

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pgserver
import psycopg2

USER = "postgres"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int

    def env(self, database: str) -> dict[str, str]:
        """The variables deploy/postgres/dagster.yaml reads to reach `database`."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": "unused-trust-auth",
            "DAGSTER_PG_DB": database,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server(data_dir: Path) -> Iterator[Postgres]:
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    port = _free_port()
    pgserver.pg_ctl(
        ["-w", "-o", f"-h 127.0.0.1 -p {port} -k ''", "-l", str(data_dir / "log"), "restart"],
        pgdata=data_dir,
        user=server.system_user,
        timeout=60,
    )
    try:
        yield Postgres("127.0.0.1", port)
    finally:
        server.cleanup()


def fresh_database(server: Postgres) -> str:
    """A new empty database on the server; its name."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(host=server.host, port=server.port, user=USER, dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
    finally:
        connection.close()
    return name
