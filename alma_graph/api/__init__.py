"""The GraphQL API: `alma-graph serve` (strawberry on uvicorn) over any backend.

Resolvers call the same services as the Python client; see operations.py for the operations,
types.py for the traversal fields, app.py for keys, GraphiQL and health, limits.py for what
stops abusive requests. Nothing is imported here, so `python -m alma_graph.api.schema` and
`python -m alma_graph.api.graphiql` run without loading the web stack twice.
"""
