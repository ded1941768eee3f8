"""Optional language-model judgement over any OpenAI-compatible endpoint (see chat.py, prompts.py)."""

from .chat import ChatModel, LLMConfig, parse_answer

__all__ = ["ChatModel", "LLMConfig", "parse_answer"]
