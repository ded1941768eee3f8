"""Amazon Neptune: Neptune Analytics (`neptune-graph://`) and Neptune Database (`neptune-db://`).

Both speak openCypher; everything here is openCypher. Gremlin (`gremlinpython`) is not used: it
would be a second query language for the same graph, and the one thing only Gremlin (and SPARQL)
reach on Neptune Database — full-text search — needs a separate OpenSearch domain fed by Neptune
Streams, which this backend does not manage.

`neptune-graph://g-xxxxxxxxxx?region=us-east-1` — Neptune Analytics, through the boto3
`neptune-graph` client's ExecuteQuery (options: `region`, or `client`: a ready `neptune-graph`
client, e.g. with a profile or a private endpoint). What differs from the other servers:
- ExecuteQuery runs one query per call, each its own transaction; the API has no sessions. So an
  atomic write is compensated (server.py): a failed write deletes the nodes it created.
- Neptune stores no list values as properties (openCypher data model), so an embedding is not a
  property: it goes into the graph's vector index with `neptune.algo.vectors.upsert` and is read
  back with `neptune.algo.vectors.get`. Updates to that index are not transactional either.
- A graph has one vector index, its dimension fixed when the graph is created
  (`--vector-search-configuration dimension=N`); `create_vector_index` checks that dimension with
  GetGraph, so the IAM role needs `neptune-graph:GetGraph` besides the data-plane query actions
  (ReadDataViaQuery, WriteDataViaQuery, DeleteDataViaQuery). All searchable labels share the index, so a
  search passes `vertexFilter` on `~label` to `neptune.algo.vectors.topK.byEmbedding` and filters
  the scope in the same query, fetching more until k pass (`ServerBackend._filtered`). Its score is
  the squared Euclidean distance; for our unit-length embeddings cosine = 1 - d/2.
- There is no full-text index in Neptune Analytics: `text_search` returns no hits, and
  `index_status()` says so, so retrieval there is vector search plus graph walks.

`neptune-db://<cluster-endpoint>[:8182][?iam=true&region=us-east-1]` — Neptune Database over Bolt
(`bolt+s://`, the neo4j driver). With `iam=true` the driver authenticates with a SigV4-signed
token (the Neptune documentation's recipe for the neo4j Python driver), signed again every four
minutes because a signature expires after about five (the driver then opens new connections). Neptune Database has no vector index and no
openCypher full-text search, so `vector_search` and `text_search` raise `BackendError`: use
Neptune Analytics for retrieval. Embeddings are not stored there (no list properties).

Neither has user-defined property indexes or uniqueness constraints: Neptune indexes every
statement itself, so `create_key_index` has nothing to do.

Tests against a real Neptune run in the conformance suite when `ALMA_TEST_NEPTUNE_URL` names a
scratch graph (either scheme above); it wipes that graph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlparse

import numpy as np

from ..errors import BackendError, DependencyMissingError, TransientBackendError, ValidationError
from ..schema import SEARCHABLE_LABELS, NodeKind
from .base import Backend, Hit, Row, SearchFilter
from .server import ServerBackend, Transport, redact, server_address

DEFAULT_PORT = 8182
GRAPH_ID = re.compile(r"g-[a-z0-9]{10}")  # the ExecuteQuery API's pattern for graphIdentifier
SIGNATURE_TTL_S = 240
# ExecuteQuery errors the Neptune Analytics documentation calls retriable.
TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServerException", "ConflictException"})
OPTIONS = {"neptune-graph": ("region", "client"), "neptune-db": ("region", "iam")}


# -- Neptune Analytics transport ------------------------------------------------------------


class AnalyticsTransport(Transport):
    """openCypher through ExecuteQuery; the results arrive as one streamed JSON document."""

    atomic = False  # each ExecuteQuery call commits on its own

    def __init__(self, client: object, graph_id: str):
        from botocore import exceptions

        self.client = client
        self.graph_id = graph_id
        self._errors = exceptions

    def run(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        with self._translated("a query"):
            response = self.client.execute_query(  # type: ignore[attr-defined]
                graphIdentifier=self.graph_id, queryString=cypher, language="OPEN_CYPHER",
                parameters=dict(params),
            )
            body = response["payload"].read()
        try:
            return json.loads(body)["results"]
        except (ValueError, KeyError, TypeError):
            raise BackendError(f"Neptune Analytics answered without a results document: {body[:200]!r}") from None

    def vector_dimension(self) -> int | None:
        """The dimension of the graph's vector index (None: created without one)."""
        with self._translated("GetGraph, which reads the vector index's dimension (IAM action neptune-graph:GetGraph)"):
            graph = self.client.get_graph(graphIdentifier=self.graph_id)  # type: ignore[attr-defined]
        return (graph.get("vectorSearchConfiguration") or {}).get("dimension")

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        errors = self._errors
        try:
            yield
        except errors.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in TRANSIENT_CODES:
                raise TransientBackendError(f"Neptune Analytics {code}: {exc}") from None
            raise BackendError(f"Neptune Analytics rejected {what}: {exc}") from None
        except (errors.ConnectionError, errors.HTTPClientError) as exc:
            raise TransientBackendError(f"Neptune Analytics connection failed: {exc}") from None
        except errors.BotoCoreError as exc:
            raise BackendError(f"Neptune Analytics: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Never opened by the backend (atomic is False): there is nothing to open.
        yield

    def close(self) -> None:
        self.client.close()  # type: ignore[attr-defined]


# -- backends -------------------------------------------------------------------------------


class _NeptuneBackend(ServerBackend):
    """What Neptune Analytics and Neptune Database share."""

    #: why text_search finds nothing, for index_status and errors
    no_full_text: str

    def create_key_index(self, label: str, key: str) -> None:
        # Neptune indexes every statement (node, property, value) itself and has no DDL for
        # property indexes or uniqueness constraints: nothing to create.
        return None

    def create_text_index(self, label: str) -> None:
        return None  # no full-text index exists to create (module docstring)

    def text_query(self, label: str, predicate: str) -> str:
        raise BackendError(self.no_full_text)

    def _create(self, kind: NodeKind, rows: Sequence[Row], statement: str, *,
                returns_keys: bool = False) -> list[object]:
        # Neptune stores no list values as properties: the embedding never goes in the SET.
        return super()._create(kind, [{k: v for k, v in row.items() if k != "embedding"} for row in rows],
                               statement, returns_keys=returns_keys)

    def _count(self, label: str) -> int:
        return int(self.execute(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"])


class NeptuneAnalyticsBackend(_NeptuneBackend):
    multi_statement_transactions = False
    no_full_text = "Neptune Analytics has no full-text index"
    transport: AnalyticsTransport

    def __init__(self, transport: AnalyticsTransport, url: str):
        super().__init__(transport, url)
        self._graph_dimension: int | None = None

    def create_vector_index(self, label: str, dimension: int) -> None:
        # The graph's one vector index already exists, created with the graph; check its size.
        if self._graph_dimension is None:
            found = self.transport.vector_dimension()
            if found is None:
                raise BackendError(
                    f"Neptune Analytics graph {self.transport.graph_id} has no vector index; create the "
                    f"graph with --vector-search-configuration dimension={dimension}"
                )
            self._graph_dimension = int(found)
        if self._graph_dimension != dimension:
            raise BackendError(
                f"Neptune Analytics graph {self.transport.graph_id} has a {self._graph_dimension}-d "
                f"vector index; this embedder makes {dimension}-d vectors"
            )

    def _create(self, kind: NodeKind, rows: Sequence[Row], statement: str, *,
                returns_keys: bool = False) -> list[object]:
        created = super()._create(kind, rows, statement, returns_keys=returns_keys)
        if kind.has_vector:
            keys = set(created)
            self._upsert_vectors(kind, [row for row in rows if row[kind.key] in keys])
        return created

    def _upsert_vectors(self, kind: NodeKind, rows: Sequence[Row]) -> None:
        statement = (
            f"UNWIND $rows AS row MATCH (n:{kind.label}) WHERE n.{kind.key} = row.key "
            "CALL neptune.algo.vectors.upsert(n, row.embedding) YIELD success "
            "WITH row, success WHERE NOT success RETURN row.key AS key"
        )
        for start in range(0, len(rows), self.batch_size):
            batch = [{"key": r[kind.key], "embedding": np.asarray(r["embedding"], dtype=float).tolist()}
                     for r in rows[start:start + self.batch_size]]
            failed = self.execute(statement, {"rows": batch})
            if failed:
                raise BackendError(f"Neptune Analytics did not store the embedding of {kind.label} {failed[0]['key']!r}")

    def embeddings(self, label: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Neptune keeps vectors in its vector index, not in an `n.embedding` property."""
        rows = self.execute(
            f"MATCH (n:{label}) WHERE n.id IN $ids CALL neptune.algo.vectors.get(n) YIELD embedding "
            "RETURN n.id AS id, embedding AS e",
            {"ids": list(ids)},
        )
        return {r["id"]: np.asarray(r["e"], dtype=np.float32) for r in rows if r["e"] is not None}

    def vector_query(self, label: str, predicate: str) -> str:
        only_label = json.dumps({"equals": {"property": "~label", "value": label}})
        return (
            "CALL neptune.algo.vectors.topK.byEmbedding("
            f"{{embedding: $q, topK: $fetch, vertexFilter: '{only_label}'}}) YIELD node, score "
            f"WITH node, score WHERE {predicate} "
            "RETURN node.id AS id, score ORDER BY score ASC LIMIT $k"
        )

    def similarity(self, score: float) -> float:
        return max(-1.0, min(1.0, 1.0 - score / 2.0))  # squared L2 between unit vectors

    def text_search(self, kind: NodeKind, query: str, k: int, where: SearchFilter) -> list[Hit]:
        return []  # no full-text index in Neptune Analytics (module docstring)

    def index_status(self) -> dict[str, str]:
        size = f"{self._graph_dimension}-d " if self._graph_dimension else ""
        return {label: f"{self._count(label)} nodes, vector search by the graph's {size}index, "
                       f"no full-text search ({self.no_full_text})"
                for label in SEARCHABLE_LABELS}


class NeptuneDatabaseBackend(_NeptuneBackend):
    no_full_text = ("Neptune Database has no openCypher full-text search (only Gremlin and SPARQL "
                    "through an OpenSearch domain); use neptune-graph:// for retrieval")
    no_vectors = "Neptune Database has no vector index; use neptune-graph:// for retrieval"

    def create_vector_index(self, label: str, dimension: int) -> None:
        return None  # nothing to create: vector_search says why

    def vector_query(self, label: str, predicate: str) -> str:
        raise BackendError(self.no_vectors)

    def similarity(self, score: float) -> float:
        raise BackendError(self.no_vectors)

    def index_status(self) -> dict[str, str]:
        return {label: f"{self._count(label)} nodes, no vector or full-text index (Neptune Database)"
                for label in SEARCHABLE_LABELS}


# -- opening --------------------------------------------------------------------------------


def open_url(url: str, **options: object) -> Backend:
    """Open `neptune-graph://<graph-id>` or `neptune-db://<host>[:port]`; options may also be
    given as URL query parameters (`?region=us-east-1`)."""
    parsed = urlparse(url)
    if parsed.scheme not in OPTIONS:
        raise ValidationError("url", f"{redact(url)!r} is not a neptune-graph:// or neptune-db:// URL")
    options = {**dict(parse_qsl(parsed.query, keep_blank_values=True)), **options}
    for name in options:
        if name not in OPTIONS[parsed.scheme]:
            raise ValidationError(name, f"is not an option of {parsed.scheme}:// (expected one of "
                                        f"{', '.join(OPTIONS[parsed.scheme])})")
    if parsed.path not in ("", "/") or parsed.username is not None:
        raise ValidationError("url", f"{redact(url)!r}: Neptune URLs name a graph or an endpoint only, "
                                     "no path, database or user")
    if parsed.scheme == "neptune-graph":
        return _open_analytics(url, parsed.netloc, options)
    return _open_database(url, options)


def _open_analytics(url: str, graph_id: str, options: dict[str, object]) -> Backend:
    if not GRAPH_ID.fullmatch(graph_id):
        raise ValidationError("url", f"{redact(url)!r} names no Neptune Analytics graph (neptune-graph://g-xxxxxxxxxx)")
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError
    except ImportError:
        raise DependencyMissingError("Neptune Analytics (neptune-graph://)", "boto3", "neptune") from None
    client = options.get("client")
    if client is None:
        try:
            # One attempt per call: botocore would otherwise resend a write whose outcome it
            # does not know; Backend.atomically retries whole writes after compensating.
            client = boto3.client("neptune-graph", region_name=options.get("region"),
                                  config=Config(retries={"total_max_attempts": 1}))
        except NoRegionError:
            raise ValidationError("region", "no AWS region is configured: add ?region=... to the URL "
                                            "or set AWS_REGION") from None
    elif "region" in options:
        raise ValidationError("region", "set the region on the client given instead")
    return NeptuneAnalyticsBackend(AnalyticsTransport(client, graph_id), url)


def _open_database(url: str, options: dict[str, object]) -> Backend:
    _, host, port = server_address(url, DEFAULT_PORT, "neptune-db://<cluster-endpoint>:8182")
    try:
        import neo4j  # noqa: F401
    except ImportError:
        raise DependencyMissingError("Neptune Database (neptune-db://)", "neo4j", "neptune") from None
    from .bolt import BoltTransport

    iam = _flag("iam", options.get("iam", False))
    region = options.get("region")
    if region is not None and not iam:
        raise ValidationError("region", "is only used with iam=true")
    auth = iam_auth(f"{host}:{port}", str(region) if region else None) if iam else None
    return NeptuneDatabaseBackend(BoltTransport(f"bolt+s://{host}:{port}", auth=auth), url)


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ValidationError(name, f"expected true or false, got {value!r}")


def iam_auth(host_port: str, region: str | None) -> object:
    """A neo4j auth manager giving a fresh SigV4-signed Neptune token every few minutes."""
    try:
        import boto3
    except ImportError:
        raise DependencyMissingError("IAM authentication to Neptune Database", "boto3", "neptune") from None
    from neo4j.auth_management import AuthManagers, ExpiringAuth

    session = boto3.Session(region_name=region)
    if not session.region_name:
        raise ValidationError("region", "IAM authentication needs the cluster's region: add "
                                        "&region=... to the URL or set AWS_REGION")
    credentials = session.get_credentials()
    if credentials is None:
        raise BackendError("IAM authentication to Neptune found no AWS credentials "
                           "(environment, profile or instance role)")

    def signed() -> ExpiringAuth:
        token = sigv4_token(credentials.get_frozen_credentials(), session.region_name, host_port)
        return ExpiringAuth(token).expires_in(SIGNATURE_TTL_S)

    # `bearer` is the driver's manager for tokens that expire; on servers without Bolt
    # re-authentication the driver replaces pooled connections when the token changes.
    return AuthManagers.bearer(signed)


def sigv4_token(credentials: object, region: str, host_port: str) -> object:
    """The Bolt auth token Neptune's IAM authentication reads: a signed GET /opencypher."""
    import neo4j
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=f"bolt://{host_port}/opencypher")
    request.headers.add_header("Host", host_port)
    SigV4Auth(credentials, "neptune-db", region).add_auth(request)
    signed = {h: request.headers[h] for h in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Host")}
    signed["HttpMethod"] = request.method
    return neo4j.Auth("basic", "username", json.dumps(signed), "realm")
