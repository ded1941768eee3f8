"""The Bolt transport: the official `neo4j` driver, for every server that speaks Bolt
(Neo4j, Memgraph, Neptune Database, FalkorDB's Bolt endpoint).

A statement outside a transaction goes through the driver's `execute_query`, which retries
transient failures itself and routes reads to followers and writes to the leader on a cluster
(`neo4j://` URLs). An atomic write is an explicit transaction on this thread's session; a
transient failure inside it surfaces as `TransientBackendError`, and `Backend.atomically` runs
the whole write again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import unquote, urlparse

from ..errors import BackendError, DependencyMissingError, TransientBackendError, ValidationError
from .base import Row
from .server import Transport, is_write


def _driver_module():
    try:
        import neo4j
    except ImportError:
        raise DependencyMissingError("Bolt backends (Neo4j, Memgraph, Neptune)", "neo4j", "servers") from None
    return neo4j


class BoltTransport(Transport):
    """One driver (a connection pool) per backend; one session per thread during a write."""

    def __init__(self, uri: str, *, auth: object = None, database: str | None = None,
                 **driver_options: object):
        neo4j = _driver_module()
        self._neo4j = neo4j
        self.database = database or None
        try:
            self.driver = neo4j.GraphDatabase.driver(uri, auth=auth, **driver_options)
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise ValidationError("url", f"the Bolt driver cannot use {uri!r}: {exc}") from None
        self._local = threading.local()

    @classmethod
    def from_url(cls, url: str, *, scheme: str, auth: object = None, **options: object) -> "BoltTransport":
        """`user:password@host:port/database` after a backend's own scheme, as a driver URI."""
        parsed = urlparse(url)
        if not parsed.hostname:
            raise ValidationError("url", f"{url!r} names no host")
        if auth is None and parsed.username:
            auth = (unquote(parsed.username), unquote(parsed.password or ""))
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        uri = f"{scheme}://{host}:{parsed.port or 7687}"
        if parsed.query:
            uri += f"?{parsed.query}"
        return cls(uri, auth=auth, database=parsed.path.strip("/") or None, **options)

    def _translate(self, exc: Exception) -> BackendError:
        errors = self._neo4j.exceptions
        if isinstance(exc, (errors.TransientError, errors.ServiceUnavailable, errors.SessionExpired)):
            return TransientBackendError(f"{type(exc).__name__}: {exc}")
        return BackendError(f"the server rejected a query: {exc}")

    def run(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        tx = getattr(self._local, "tx", None)
        try:
            if tx is not None:
                return [record.data() for record in tx.run(cypher, params)]
            routing = self._neo4j.RoutingControl.WRITE if is_write(cypher) else self._neo4j.RoutingControl.READ
            records, _, _ = self.driver.execute_query(
                cypher, parameters_=dict(params), database_=self.database, routing_=routing
            )
            return [record.data() for record in records]
        except self._neo4j.exceptions.Neo4jError as exc:
            raise self._translate(exc) from None
        except self._neo4j.exceptions.DriverError as exc:
            raise self._translate(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "tx", None) is not None:  # nested: part of the outer write
            yield
            return
        try:
            session = self.driver.session(database=self.database)
            tx = session.begin_transaction()
        except (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError) as exc:
            raise self._translate(exc) from None
        self._local.tx = tx
        try:
            yield
            tx.commit()
        except BaseException as exc:
            if tx.closed() is False:
                try:
                    tx.rollback()
                except (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError):
                    pass  # the server already ended it
            if isinstance(exc, (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError)):
                raise self._translate(exc) from None
            raise
        finally:
            self._local.tx = None
            session.close()

    def close(self) -> None:
        self.driver.close()
