"""docs/PROMPTS.md shows real rendered prompts: they must match what the builders produce today."""

from __future__ import annotations

import random
from pathlib import Path

from selfalign.prompts import builders

DOC = Path(__file__).resolve().parents[1] / "docs" / "PROMPTS.md"


def test_rendered_prompts_in_the_doc_are_current() -> None:
    text = DOC.read_text("utf-8")
    prompt, ids = builders.response_prompt(
        "Name three rivers that flow through Germany.", random.Random(0), k=3, category="question_answering"
    )
    assert f"```\n{prompt}\n```" in text and repr(ids) in text
    listing = builders.instruction_prompt("brainstorm", random.Random(0), k=6)
    assert f"```\n{listing}\n```" in text
    urial = builders.urial_prompt("Explain what a leap year is.")
    assert f"```\n{urial}\n```" in text and repr(builders.urial_example_ids()) in text
