"""The chat template that renders selfalign's own Instruction/Response format, token for token.

One turn only, because that is all selfalign trains and evaluates: ``[user]`` (with
``add_generation_prompt``: the prompt the evaluation fed) or ``[user, assistant]`` (a training row: prompt,
completion, end marker, EOS). A system message, a second user turn or any other role is refused with
``raise_exception``: the model never saw them, and silently folding a system prompt into the instruction
would be a format it was not trained on.

The BOS token is written into the template iff the model's BOS rule adds one (the guard's rule), since
``apply_chat_template`` tokenises with ``add_special_tokens=False``. Content is ``trim``-med like
``Format.prompt``/``Format.completion`` strip it (Jinja's ``trim`` is Python's ``str.strip``).
"""

from __future__ import annotations

import json

from selfalign.prompts.format import Format


def _lit(text: str) -> str:
    """A Jinja string literal for ``text`` (Jinja decodes JSON's escapes: \\n, \\", \\uXXXX)."""
    return json.dumps(text)


def chat_template(fmt: Format, adds_bos: bool) -> str:
    """The Jinja chat template for ``fmt``; ``adds_bos``: the model's rule puts BOS first."""
    prompt_head = _lit(fmt.instruction_prefix)
    prompt_tail = _lit("\n" + fmt.response_prefix)
    end = _lit(fmt.end)
    bos = "{{- bos_token -}}\n" if adds_bos else ""
    return (
        "{#- selfalign single-turn format: [user] or [user, assistant]; no system prompt, no multi-turn -#}\n"
        "{%- if messages | length == 0 or messages | length > 2 -%}\n"
        "{{- raise_exception('selfalign format: one user message, optionally followed by one assistant "
        "message (no multi-turn)') -}}\n"
        "{%- endif -%}\n"
        "{%- if messages[0]['role'] != 'user' -%}\n"
        "{{- raise_exception('selfalign format: the first message must be from the user (system "
        "messages are not supported: the model was never trained with one)') -}}\n"
        "{%- endif -%}\n"
        "{%- if messages | length == 2 and messages[1]['role'] != 'assistant' -%}\n"
        "{{- raise_exception('selfalign format: the second message must be from the assistant') -}}\n"
        "{%- endif -%}\n"
        f"{bos}"
        f"{{{{- {prompt_head} + messages[0]['content'] | trim + {prompt_tail} -}}}}\n"
        "{%- if messages | length == 2 -%}\n"
        f"{{{{- ' ' + messages[1]['content'] | trim + {end} + eos_token -}}}}\n"
        "{%- endif -%}\n"
    )
