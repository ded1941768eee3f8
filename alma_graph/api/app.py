"""The HTTP side: routes, API-key authentication, GraphiQL from local assets, health.

    /graphql         POST/GET GraphQL (API key required), websocket subscriptions
                     (graphql-transport-ws), GraphiQL for a browser
    /graphiql/...    GraphiQL's scripts and styles, served from the local install
    /health          liveness and database reachability, no key needed

A request names its key as `Authorization: Bearer <key>` (or `X-API-Key`); a websocket may send
it in `connection_init`'s payload instead, since browsers cannot set websocket headers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from ..backends.server import redact
from ..client import GraphMemory
from ..errors import AuthenticationError, ValidationError
from ..schema import SCHEMA_VERSION
from ..services.keys import ADMIN, Identity, KeyService
from . import graphiql
from .context import Context
from .limits import BodyLimit
from .schema import Limits, build_schema

ASSETS_PATH = "/graphiql"
KEY_CACHE_SECONDS = 30.0  # a revoked key stops working within this long


@dataclass
class Settings:
    insecure: bool = False  # no API keys: every request acts as admin (loopback only, see serve)
    limits: Limits = Limits()


class Authenticator:
    """Turns a request's key into an Identity, remembering verified keys for a short while so a
    busy client does not cost a database read per request."""

    def __init__(self, keys: KeyService, insecure: bool):
        self.keys, self.insecure = keys, insecure
        self._cache: dict[str, tuple[Identity, float]] = {}

    async def identify(self, token: str | None) -> Identity:
        if self.insecure:
            return ADMIN
        if not token:
            raise AuthenticationError("an API key is required: send 'Authorization: Bearer <key>' "
                                      "(create one with: alma-graph keys create --agent NAME)")
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(digest)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        identity = await anyio.to_thread.run_sync(self.keys.verify, token)
        self._cache[digest] = (identity, time.monotonic() + KEY_CACHE_SECONDS)
        return identity


def _token(headers, params: dict | None = None) -> str | None:
    for source in (headers, params or {}):
        for name in ("authorization", "Authorization"):
            value = source.get(name)
            if isinstance(value, str) and value.lower().startswith("bearer "):
                return value[7:].strip()
        for name in ("x-api-key", "X-API-Key", "apiKey"):
            if isinstance(source.get(name), str):
                return source.get(name)
    return None


def _unauthenticated(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
                        status_code=401, headers={"WWW-Authenticate": 'Bearer realm="alma-graph"'})


class GraphQLEndpoint(GraphQL):
    def __init__(self, memory: GraphMemory, auth: Authenticator, settings: Settings):
        super().__init__(build_schema(settings.limits), subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         keep_alive=True, keep_alive_interval=15)
        self.memory, self.auth = memory, auth

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if not _wants_ide(request):
                try:
                    scope.setdefault("state", {})["identity"] = await self.auth.identify(_token(request.headers))
                except AuthenticationError as exc:
                    return await _unauthenticated(str(exc))(scope, receive, send)
        await super().__call__(scope, receive, send)

    async def get_context(self, request, response) -> Context:
        # HTTP requests were authenticated above; a websocket is, at connection_init.
        return Context(self.memory, request.scope.get("state", {}).get("identity"))

    async def on_ws_connect(self, context: Context):
        try:
            context.identity = await self.auth.identify(_token(context.connection_params or {}))
        except AuthenticationError as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from None

    async def render_graphql_ide(self, request: Request) -> Response:
        if not graphiql.assets_installed():
            return HTMLResponse(graphiql.missing_assets_page(), status_code=503)
        ws = request.url.replace(scheme="wss" if request.url.scheme == "https" else "ws", query="")
        return HTMLResponse(graphiql.graphiql_page(request.url.path, ASSETS_PATH + "/", str(ws)))


def _wants_ide(request: Request) -> bool:
    """A browser opening /graphql gets GraphiQL (no key needed to load the page; the key goes in
    its headers editor)."""
    return (request.method == "GET" and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", ""))


def create_app(memory: GraphMemory, settings: Settings | None = None) -> BodyLimit:
    settings = settings or Settings()
    auth = Authenticator(KeyService(memory.memories), settings.insecure)
    endpoint = GraphQLEndpoint(memory, auth, settings)

    async def health(request: Request) -> JSONResponse:
        body = {"backend": redact(memory.backend.url), "schemaVersion": SCHEMA_VERSION,
                "auth": "none (insecure, loopback only)" if settings.insecure else "api-key"}
        try:
            await anyio.to_thread.run_sync(memory.backend.execute, "RETURN 1 AS ok")
        except Exception as exc:  # the point of a health check: report, don't raise
            return JSONResponse({**body, "status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({**body, "status": "ok"})

    app = Starlette(routes=[
        Route("/", lambda request: RedirectResponse("/graphql")),
        Route("/health", health),
        Mount(ASSETS_PATH, StaticFiles(directory=graphiql.assets_directory(), check_dir=False)),
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint),
    ])
    return BodyLimit(app, settings.limits.max_body_bytes)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(memory: GraphMemory, host: str, port: int, settings: Settings, log_level: str = "info") -> None:
    """Run the API until interrupted. One process: an embedded database has one writer."""
    if settings.insecure and not is_loopback(host):
        raise ValidationError("host", f"--insecure serves without API keys, so it binds only to loopback "
                                      f"(127.0.0.1, ::1 or localhost), not {host!r}")
    config = uvicorn.Config(create_app(memory, settings), host=host, port=port, log_level=log_level,
                            ws="websockets-sansio", ws_max_size=settings.limits.max_body_bytes, lifespan="off")
    uvicorn.Server(config).run()
