"""Pools that ``sample_params`` draws from.

Kept in code (not a data file) because they are small and the package only ships ``prompts/data``.
Words are general enough to fit most instructions. No item holds a comma or a digit, so a sampled
phrase never collides with no_commas/no_digits; the phrases are sentence-cased, so they do collide with
lowercase/uppercase and augmentation simply draws again in that case.
"""

from __future__ import annotations

INCLUDE_WORDS = (
    "example", "simple", "important", "practice", "future", "balance", "quality", "community",
    "history", "energy", "nature", "question", "reason", "together", "careful", "clear", "patience",
    "journey", "detail", "benefit",
)  # fmt: skip

# Filler words a fluent answer tends to use, so avoiding them is a real (but fair) constraint.
EXCLUDE_WORDS = (
    "very", "really", "thing", "things", "just", "also", "basically", "actually", "good", "great",
    "many", "always", "never", "important", "simple",
)  # fmt: skip

FREQUENCY_WORDS = (
    "water", "light", "time", "idea", "change", "friend", "home", "plan", "story", "work", "people",
    "world",
)  # fmt: skip

JSON_KEYS = (
    "answer", "summary", "reason", "steps", "category", "confidence", "details", "example", "name",
    "topic", "advice", "sources",
)  # fmt: skip

START_PHRASES = (
    "Sure", "Here is my answer", "In short", "To begin", "Great question", "Certainly", "First of all",
    "My answer is",
)  # fmt: skip

END_PHRASES = (
    "Hope this helps.", "That is all.", "Thank you for reading.",
    "Let me know if you have any questions.", "Is there anything else I can help with?",
    "Any other questions?",
)  # fmt: skip
