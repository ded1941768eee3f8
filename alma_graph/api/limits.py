"""What stops an abusive request before it costs the database anything: a body size limit,
and a cost limit on what an operation could fetch (depth, alias and token limits come from
strawberry's own extensions, see schema.py).

Cost: every field costs 1, and a list field multiplies what is selected under it by how many
items it can return: `topK` or `limit` when the operation says, `RELATED_FANOUT ** depth` for
`related`, `DEFAULT_LIST` otherwise. Introspection is bounded by the schema and not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from graphql import (
    DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError, GraphQLObjectType,
    GraphQLSchema, InlineFragmentNode, OperationDefinitionNode, SelectionSetNode, get_named_type,
    get_nullable_type, is_list_type,
)
from graphql.utilities import value_from_ast_untyped
from strawberry.extensions import SchemaExtension
from strawberry.extensions.utils import is_introspection_key

log = logging.getLogger(__name__)
DEFAULT_LIST = 10
RELATED_FANOUT = 5


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                   variables: Mapping[str, object] | None) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if not chosen:
        return 0  # execution reports the missing operation itself
    root = schema.get_root_type(chosen[0].operation)
    return _cost(schema, root, chosen[0].selection_set, fragments, dict(variables or {}))


def _fields(schema: GraphQLSchema, parent: GraphQLObjectType, selection_set: SelectionSetNode,
            fragments: dict[str, FragmentDefinitionNode]) -> Iterator[tuple[object, FieldNode]]:
    for selection in selection_set.selections or ():
        if isinstance(selection, FieldNode):
            yield parent, selection
        else:
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner = selection.type_condition, selection.selection_set
            target = schema.get_type(condition.name.value) if condition else parent
            yield from _fields(schema, target, inner, fragments)  # type: ignore[arg-type]


def _cost(schema: GraphQLSchema, parent: object, selection_set: SelectionSetNode | None,
          fragments: dict[str, FragmentDefinitionNode], variables: dict[str, object]) -> int:
    if selection_set is None:
        return 0
    total = 0
    for owner, node in _fields(schema, parent, selection_set, fragments):  # type: ignore[arg-type]
        name = node.name.value
        definition = getattr(owner, "fields", {}).get(name)
        if is_introspection_key(name) or definition is None:
            continue
        args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()}
        size = _list_size(name, args) if is_list_type(get_nullable_type(definition.type)) else 1
        total += 1 + size * _cost(schema, get_named_type(definition.type), node.selection_set, fragments, variables)
    return total


def _list_size(name: str, args: dict[str, object]) -> int:
    for arg in ("top_k", "topK", "limit"):
        if isinstance(args.get(arg), int):
            return max(1, int(args[arg]))  # type: ignore[arg-type]
    if name == "related":
        return RELATED_FANOUT ** max(1, int(args.get("depth", 1)))  # type: ignore[arg-type]
    if name == "remember" and isinstance(args.get("episodes"), list):
        return len(args["episodes"])  # type: ignore[arg-type]
    return DEFAULT_LIST


class CostLimiter(SchemaExtension):
    def __init__(self, max_cost: int):
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None:
            try:
                cost = operation_cost(ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables)
            except Exception:  # raised here, it would bypass the error masking: say no more than this
                log.exception("cannot compute the cost of an operation")
                raise GraphQLError("internal error", extensions={"code": "INTERNAL_ERROR"}) from None
            if cost > self.max_cost:
                raise GraphQLError(
                    f"query cost {cost} is over the limit of {self.max_cost}: ask for fewer items "
                    "(topK, limit, related depth) or fewer nested fields",
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": self.max_cost},
                )
        yield


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 before anything reads it."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _too_large(send, self.max_bytes)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await _too_large(send, self.max_bytes)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send, limit: int) -> None:
    payload = (b'{"errors":[{"message":"request body is over the limit of %d bytes",'
               b'"extensions":{"code":"BODY_TOO_LARGE"}}]}' % limit)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
