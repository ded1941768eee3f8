"""One error hierarchy for every front door (client, CLI, GraphQL, MCP).

Each error that comes from bad input names the field and the problem, so a caller
can fix the call without reading our code.
"""

from __future__ import annotations


class AlmaGraphError(Exception):
    """Base class of every error alma-graph raises on purpose."""


class ValidationError(AlmaGraphError, ValueError):
    """A value given by the caller is unusable. Nothing was written."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class NotFoundError(AlmaGraphError, LookupError):
    """The agent, memory or episode named does not exist."""

    def __init__(self, kind: str, key: str):
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} does not exist")


class ScopeViolationError(AlmaGraphError, PermissionError):
    """An agent tried to write a memory type its MemoryScope forbids."""

    def __init__(self, agent: str, memory_type: str, reason: str):
        self.agent = agent
        self.memory_type = memory_type
        super().__init__(f"agent {agent!r} may not learn {memory_type}: {reason}")


class AccessDeniedError(AlmaGraphError, PermissionError):
    """The caller's identity (an API key) does not allow what it asked for."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class AuthenticationError(AlmaGraphError):
    """No API key, or one that is unknown or revoked."""


class SchemaVersionError(AlmaGraphError):
    """The database was written by an incompatible alma-graph version or embedder."""


class DependencyMissingError(AlmaGraphError, ImportError):
    """An optional dependency needed by the chosen configuration is not installed."""

    def __init__(self, feature: str, package: str, extra: str | None = None):
        hint = f"pip install 'alma-graph[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package {package!r}, which is not installed: {hint}")


class BackendError(AlmaGraphError):
    """The graph database refused or failed an operation."""


class DatabaseLockedError(BackendError):
    """Another process holds the embedded database open for writing."""


class TransientBackendError(BackendError):
    """A failure the database says may pass (leader change, deadlock, lost connection): the
    whole atomic write that hit it is safe to run again."""


class ModelError(BackendError):
    """The configured language model could not be reached, refused the request, or answered
    with something that is not the JSON asked for."""


class ModelAnswerError(ModelError):
    """The model answered, but not with the JSON its prompt asked for."""
