"""The behaviour, written once: every front door calls these services."""
