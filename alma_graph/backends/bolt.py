"""The Bolt transport: the official `neo4j` driver, for every server that speaks Bolt
(Neo4j, Memgraph, Neptune Database, FalkorDB's Bolt endpoint).

A statement outside a transaction goes through the driver's `execute_query`, which retries
transient failures itself and routes reads to followers and writes to the leader on a cluster
(`neo4j://` URLs). An atomic write is an explicit transaction on this thread's session; a
transient failure inside it surfaces as `TransientBackendError`, and `Backend.atomically` runs
the whole write again. Every session shares the driver's bookmarks with `execute_query`, so on
a cluster a read sees the writes this client committed before it (causal consistency).

Credentials (`bolt_auth`) come from the first place that has them: the `auth=` option, the
`user=`/`password=` options, the URL's `user:password@`, then two environment variables the
backend names (`ALMA_GRAPH_NEO4J_USER`/`_PASSWORD`, `ALMA_GRAPH_MEMGRAPH_USER`/`_PASSWORD`).
A password never appears in a backend's `url` or in an error message (`server.redact`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import unquote, urlparse

from ..errors import BackendError, DependencyMissingError, TransientBackendError, ValidationError
from .base import Row, is_read
from .server import Transport, server_address

AUTH_OPTIONS = ("auth", "user", "password")
_DATABASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _driver_module():
    try:
        import neo4j
    except ImportError:
        raise DependencyMissingError("Bolt backends (Neo4j, Memgraph, Neptune)", "neo4j", "servers") from None
    return neo4j


def bolt_auth(url: str, options: dict[str, object], env_prefix: str) -> object:
    """The credentials for a Bolt server: `auth=` (a (user, password) pair or a driver auth
    token such as `neo4j.bearer_auth(...)`), else `user=`/`password=`, else the URL's
    `user:password@`, else the environment variables `{env_prefix}_USER` and
    `{env_prefix}_PASSWORD`; None connects without authentication. Removes the options it reads."""
    auth, user, password = (options.pop(name, None) for name in AUTH_OPTIONS)
    if auth is not None:
        if user is not None or password is not None:
            raise ValidationError("auth", "give either auth= or user=/password=, not both")
        if isinstance(auth, _driver_module().Auth):
            return auth
        if (isinstance(auth, (tuple, list)) and len(auth) == 2
                and all(isinstance(part, str) for part in auth)):
            return tuple(auth)
        raise ValidationError("auth", "expected a (user, password) pair of strings or a neo4j auth token")
    if user is not None or password is not None:
        if not isinstance(user, str) or not user:
            raise ValidationError("user", "a non-empty user name is needed (with password=)")
        if password is not None and not isinstance(password, str):
            raise ValidationError("password", "expected a string")
        return (user, password or "")
    parsed = urlparse(url)
    if parsed.username:
        return (unquote(parsed.username), unquote(parsed.password or ""))
    env_user = os.environ.get(f"{env_prefix}_USER")
    env_password = os.environ.get(f"{env_prefix}_PASSWORD")
    if env_user:
        return (env_user, env_password or "")
    if env_password:
        raise ValidationError(f"{env_prefix}_USER", f"is not set, but {env_prefix}_PASSWORD is")
    return None


def reject_unknown(options: Mapping[str, object], backend: str, known: tuple[str, ...]) -> None:
    """A ValidationError naming the first option a backend does not take."""
    for name in options:
        raise ValidationError(name, f"is not an option of the {backend} backend (it takes: {', '.join(known)})")


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
        parsed, host, port = server_address(url, 7687, "scheme://[user:password@]host:port[/database]")
        database = unquote(parsed.path.strip("/")) or None
        if database is not None and not _DATABASE.fullmatch(database):
            raise ValidationError("url", f"{database!r} (the URL's path) is not a database name")
        if auth is None and parsed.username:
            auth = (unquote(parsed.username), unquote(parsed.password or ""))
        uri = f"{scheme}://{host}:{port}"
        if parsed.query:
            uri += f"?{parsed.query}"
        return cls(uri, auth=auth, database=database, **options)

    def _translate(self, exc: Exception, *, retried: bool = False) -> BackendError:
        """Our error for a driver error. Transient only when running the whole write again can
        help and the driver has not already done so: a leader change or deadlock can pass, an
        unreachable server (ServiceUnavailable, after the driver's own connection attempts)
        should fail fast."""
        errors = self._neo4j.exceptions
        if not retried and isinstance(exc, (errors.TransientError, errors.SessionExpired)):
            return TransientBackendError(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, errors.ServiceUnavailable):
            return BackendError(f"the server is unreachable: {exc}")
        if getattr(exc, "code", None) == "Neo.ClientError.Schema.ConstraintValidationFailed":
            # A concurrent writer created the same key after this write checked for it; run the
            # write again and it finds the key (only atomic writes reach here: rolled back).
            return TransientBackendError(f"{type(exc).__name__}: {exc}")
        return BackendError(f"the server rejected a query: {exc}")

    def run(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        tx = getattr(self._local, "tx", None)
        try:
            if tx is not None:
                return [record.data() for record in tx.run(cypher, params)]
            routing = self._neo4j.RoutingControl.READ if is_read(cypher) else self._neo4j.RoutingControl.WRITE
            records, _, _ = self.driver.execute_query(
                cypher, parameters_=dict(params), database_=self.database, routing_=routing
            )
            return [record.data() for record in records]
        except (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError) as exc:
            raise self._translate(exc, retried=tx is None) from None

    def in_transaction(self) -> bool:
        return getattr(self._local, "tx", None) is not None

    def _session(self):
        return self.driver.session(database=self.database,
                                   bookmark_manager=self.driver.execute_query_bookmark_manager)

    def run_autocommit(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        """Run one statement as an auto-commit (implicit) transaction on its own session: some
        servers refuse statements inside explicit transactions, which is what `execute_query`
        opens (Memgraph: index and constraint DDL, `SHOW ... INFO`). Not retried."""
        if getattr(self._local, "tx", None) is not None:
            raise BackendError("a schema statement cannot run inside an open transaction")
        errors = self._neo4j.exceptions
        try:
            with self._session() as session:
                return [record.data() for record in session.run(cypher, dict(params))]
        except (errors.Neo4jError, errors.DriverError) as exc:
            raise self._translate(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "tx", None) is not None:  # nested: part of the outer write
            yield
            return
        session = self._session()
        try:
            tx = session.begin_transaction()
        except (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError) as exc:
            session.close()
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
