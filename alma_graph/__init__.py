"""alma-graph: graph-native memory for AI agents."""

from .client import GraphMemory
from .errors import (
    AlmaGraphError,
    BackendError,
    DatabaseLockedError,
    DependencyMissingError,
    NotFoundError,
    SchemaVersionError,
    ScopeViolationError,
    ValidationError,
)
from .model import (
    Agent,
    AntiPattern,
    DomainKnowledge,
    Episode,
    Explanation,
    Heuristic,
    History,
    LearnResult,
    Memory,
    MemoryScope,
    MemorySlice,
    Outcome,
    ScoredItem,
    UserPreference,
)
from .llm import LLMConfig
from .services.consolidation import ConsolidationResult, MergeGroup
from .services.learning import LearningConfig
from .services.merging import ConsolidationConfig
from .services.scoring import RetrievalConfig, ScoreWeights

__version__ = "0.1.0"

__all__ = [
    "GraphMemory", "MemoryScope", "RetrievalConfig", "ScoreWeights", "LearningConfig",
    "ConsolidationConfig", "ConsolidationResult", "MergeGroup", "LLMConfig",
    "Agent", "Memory", "Heuristic", "Outcome", "UserPreference", "DomainKnowledge", "AntiPattern",
    "Episode", "MemorySlice", "ScoredItem", "Explanation", "History", "LearnResult",
    "AlmaGraphError", "ValidationError", "NotFoundError", "ScopeViolationError",
    "SchemaVersionError", "DependencyMissingError", "BackendError", "DatabaseLockedError",
]
