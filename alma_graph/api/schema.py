"""The GraphQL schema, its limits, and how errors reach clients.

    python -m alma_graph.api.schema           # rewrite graphql/schema.graphql from the code
    python -m alma_graph.api.schema --check   # fail if the file differs from the code

Errors: one of ours (bad input, not found, not allowed) keeps its message and gains
`extensions {code, field, problem}`; anything unexpected is logged here and reaches the client as
"internal error", so a stack trace or a database message never leaks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from ..errors import (
    AccessDeniedError, AlmaGraphError, AuthenticationError, BackendError, NotFoundError, ScopeViolationError,
    ValidationError,
)
from .limits import CostLimiter
from .operations import Mutation, Query, Subscription
from .types import MEMORY_GQL, Episode

log = logging.getLogger(__name__)
SDL_PATH = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_cost: int = 20_000
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_body_bytes: int = 1_000_000


_CODES: tuple[tuple[type[Exception], str], ...] = (
    (ValidationError, "BAD_INPUT"),
    (NotFoundError, "NOT_FOUND"),
    (ScopeViolationError, "FORBIDDEN"),
    (AccessDeniedError, "FORBIDDEN"),
    (AuthenticationError, "UNAUTHENTICATED"),
    (BackendError, "BACKEND_ERROR"),
    (AlmaGraphError, "ERROR"),
)


def public_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error  # a GraphQL syntax, validation or limit error: already meant for the client
    code = next((c for cls, c in _CODES if isinstance(original, cls)), None)
    if code is None:
        log.error("internal error at %s", error.path, exc_info=original)
        return GraphQLError("internal error", nodes=error.nodes, path=error.path,
                            extensions={"code": "INTERNAL_ERROR"})
    extensions: dict[str, object] = {"code": code}
    if isinstance(original, (ValidationError, AccessDeniedError)):
        extensions.update(field=original.field, problem=original.problem)
    if isinstance(original, ScopeViolationError):
        extensions.update(field="type", problem=str(original))
    return GraphQLError(str(original), nodes=error.nodes, path=error.path, extensions=extensions)


class PublicErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return public_error(error)


def build_schema(limits: Limits = Limits()) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[*MEMORY_GQL.values(), Episode],
        # Factories, not instances: strawberry keeps per-request state on an extension, so
        # concurrent requests each need their own.
        extensions=[
            lambda: QueryDepthLimiter(max_depth=limits.max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: CostLimiter(limits.max_cost),
            PublicErrors,
        ],
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alma_graph.api.schema", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if graphql/schema.graphql is out of date")
    args = parser.parse_args(argv)
    current = SDL_PATH.read_text() if SDL_PATH.exists() else ""
    if args.check:
        if current != sdl():
            print(f"{SDL_PATH} is out of date: run python -m alma_graph.api.schema", file=sys.stderr)
            return 1
        return 0
    SDL_PATH.parent.mkdir(exist_ok=True)
    SDL_PATH.write_text(sdl())
    print(f"wrote {SDL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
