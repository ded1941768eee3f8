"""The GraphQL API: `alma-graph serve` (strawberry on uvicorn) over any backend.

Resolvers call the same services as the Python client; see operations.py for the operations,
types.py for the traversal fields, app.py for keys, GraphiQL and health, limits.py for what
stops abusive requests.
"""

from .app import Settings, create_app, serve
from .schema import Limits, build_schema

__all__ = ["Limits", "Settings", "build_schema", "create_app", "serve"]
