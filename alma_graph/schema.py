"""The graph's shape, described once; each backend turns it into its own DDL.

Bump `SCHEMA_VERSION` whenever a stored property or edge changes meaning: a database written
with another version refuses to open rather than being read wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import MEMORY_TYPES

# 2: memories are bi-temporal. `valid_to` is world time (when the fact stopped holding, as the
# writer said); invalidation (forget, supersede) is system time, `invalidated_at`. In version 1
# `valid_to` held the invalidation time.
SCHEMA_VERSION = 2

# Property types, named in a dialect-neutral way; backends map them to their own.
STRING, INT, FLOAT, BOOL, VECTOR = "STRING", "INT", "FLOAT", "BOOL", "VECTOR"
_PY_TYPES = {str: STRING, int: INT, float: FLOAT, bool: BOOL}


@dataclass(frozen=True)
class NodeKind:
    label: str
    key: str
    properties: tuple[tuple[str, str], ...]
    searchable: bool = False  # has an embedding and retrieval text: vector + full-text indexes
    # Wider labels the node also carries where a database has multi-label nodes (the servers),
    # so "any memory" is one indexed label there; Kuzu reads a union of tables instead.
    families: tuple[str, ...] = ()

    @property
    def property_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.properties)

    @property
    def has_vector(self) -> bool:
        """Whether the node carries an embedding, stored the way the database keeps vectors."""
        return "embedding" in self.property_names

    def property_type(self, name: str) -> str:
        return dict(self.properties)[name]


@dataclass(frozen=True)
class RelKind:
    type: str
    pairs: tuple[tuple[str, str], ...]
    properties: tuple[tuple[str, str], ...] = ()


MEMORY_COMMON = (
    ("id", STRING),
    ("agent", STRING),
    ("text", STRING),
    ("embedding", VECTOR),
    ("created_at", INT),
    ("updated_at", INT),
    ("valid_from", INT),  # world time: when the fact began to hold
    ("valid_to", INT),  # world time: when it stopped holding (exclusive); null while it holds
    ("invalidated_at", INT),  # system time: when it stopped being believed (forget, supersede)
    ("confidence", FLOAT),
    ("importance", FLOAT),
    ("access_count", INT),
    ("last_access", INT),
    ("metadata", STRING),
)

AGENT = NodeKind(
    "Agent",
    "name",
    (("name", STRING), ("created_at", INT), ("can_learn", STRING), ("cannot_learn", STRING),
     ("description", STRING)),
)
SESSION = NodeKind("Session", "id", (("id", STRING), ("agent", STRING), ("started_at", INT)))
EPISODE = NodeKind(
    "Episode",
    "id",
    (("id", STRING), ("agent", STRING), ("session", STRING), ("text", STRING),
     ("embedding", VECTOR), ("timestamp", INT), ("seq", INT), ("source_id", STRING),
     ("created_at", INT), ("metadata", STRING)),
    searchable=True,
    families=("Searchable",),
)
# An API key's secret is never stored: only its SHA-256. `agent` empty means an admin key.
API_KEY = NodeKind(
    "ApiKey",
    "id",
    (("id", STRING), ("agent", STRING), ("admin", BOOL), ("secret_sha256", STRING), ("label", STRING),
     ("created_at", INT), ("revoked_at", INT)),
)
# Webhook endpoints and their outbox (services/webhooks.py). The secret is kept as given: the
# dispatcher needs it to sign every delivery, so unlike an API key it cannot be a digest.
WEBHOOK = NodeKind(
    "Webhook",
    "id",
    (("id", STRING), ("url", STRING), ("events", STRING), ("secret", STRING), ("status", STRING),
     ("created_at", INT), ("failed_at", INT), ("last_error", STRING), ("retry_at", INT),
     ("delivered_count", INT), ("last_delivered_at", INT)),
)
# One event owed to one webhook; deleted once the receiver acknowledged it.
WEBHOOK_DELIVERY = NodeKind(
    "WebhookDelivery",
    "id",
    (("id", STRING), ("webhook", STRING), ("event_id", STRING), ("event_type", STRING),
     ("memory_id", STRING), ("seq", INT), ("payload", STRING), ("status", STRING), ("attempts", INT),
     ("next_attempt", INT), ("retry_since", INT), ("created_at", INT), ("last_error", STRING)),
)
# A content word that items mention (concepts.py), with the word's own vector; shared by all agents.
CONCEPT = NodeKind("Concept", "id", (("id", STRING), ("embedding", VECTOR), ("created_at", INT)))
SCHEMA_INFO = NodeKind(
    "AlmaGraphSchema",
    "key",
    (("key", STRING), ("version", INT), ("dimension", INT), ("embedder", STRING),
     ("created_at", INT)),
)


def memory_kind(label: str) -> NodeKind:
    own = tuple((name, _PY_TYPES[t]) for name, t in MEMORY_TYPES[label].own_fields().items())
    return NodeKind(label, "id", MEMORY_COMMON + own, searchable=True, families=("Memory", "Searchable"))


MEMORY_KINDS: tuple[NodeKind, ...] = tuple(memory_kind(label) for label in MEMORY_TYPES)
MEMORY_LABELS: tuple[str, ...] = tuple(k.label for k in MEMORY_KINDS)
NODE_KINDS: tuple[NodeKind, ...] = (SCHEMA_INFO, AGENT, SESSION, EPISODE, API_KEY, WEBHOOK,
                                 WEBHOOK_DELIVERY, CONCEPT) + MEMORY_KINDS
SEARCHABLE_LABELS: tuple[str, ...] = ("Episode",) + MEMORY_LABELS
FAMILIES: dict[str, frozenset[str]] = {
    family: frozenset(k.label for k in NODE_KINDS if family in k.families)
    for family in ("Memory", "Searchable")
}

_EDGE_PROPS = (("at", INT), ("reason", STRING))
REL_KINDS: tuple[RelKind, ...] = (
    RelKind("LEARNED", tuple(("Agent", m) for m in MEMORY_LABELS), _EDGE_PROPS),
    RelKind(
        "DERIVED_FROM",
        tuple((m, "Episode") for m in MEMORY_LABELS)
        + tuple((m, n) for m in MEMORY_LABELS for n in MEMORY_LABELS),
        _EDGE_PROPS,
    ),
    RelKind("SUPERSEDES", tuple((m, n) for m in MEMORY_LABELS for n in MEMORY_LABELS), _EDGE_PROPS),
    # A consolidated memory -> the near-duplicates (of its own type) it was merged from.
    RelKind("MERGED_FROM", tuple((m, m) for m in MEMORY_LABELS), _EDGE_PROPS),
    RelKind("IN_SESSION", (("Episode", "Session"),)),
    RelKind("NEXT", (("Episode", "Episode"),)),
    RelKind("HAS_SESSION", (("Agent", "Session"),)),
    RelKind("MENTIONS", tuple((label, "Concept") for label in SEARCHABLE_LABELS)),
    # Read permissions between agents: the owner grants (SHARES_WITH reader), or a reader is set
    # up to read another's memories (INHERITS_FROM owner).
    RelKind("SHARES_WITH", (("Agent", "Agent"),), (("at", INT),)),
    RelKind("INHERITS_FROM", (("Agent", "Agent"),), (("at", INT),)),
)


def node_kind(label: str) -> NodeKind:
    for kind in NODE_KINDS:
        if kind.label == label:
            return kind
    raise KeyError(label)
