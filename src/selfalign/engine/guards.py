"""Fail-closed contamination guards: a base model sees exactly the text we built, nothing else.

Every guard raises :class:`ContaminationError`; none only logs. The :class:`Guard` owns the one encode
path of the project: ``add_special_tokens=False``, a special-token audit and a decode round trip on
every prompt, then the model's own BOS rule (:mod:`selfalign.engine.bos`) applied by us: exactly one BOS at
position 0 of every sequence when the model declares it, none otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from selfalign.engine.bos import BosRule
from selfalign.errors import ContaminationError

_PROBE = "The quick brown fox: jumps ### over 12 lazy dogs.\nInstruction: x"


def strip_chat_templates(tokenizer: Any, source: str) -> list[str]:
    """Remove every chat template the tokenizer carries; return where each one was found.

    Templates arrive via ``tokenizer_config.json`` (``chat_template`` key), ``chat_template.jinja`` and GGUF
    metadata; all land in the attribute and in ``init_kwargs`` (which ``save_pretrained`` writes back).
    """
    found: list[str] = []
    if getattr(tokenizer, "chat_template", None):
        found.append(f"{source}: tokenizer.chat_template")
    tokenizer.chat_template = None
    init_kwargs = getattr(tokenizer, "init_kwargs", None)
    if isinstance(init_kwargs, dict):
        for key in [k for k in init_kwargs if "chat_template" in k]:
            if init_kwargs[key]:
                found.append(f"{source}: init_kwargs[{key!r}]")
            del init_kwargs[key]
    for attr in ("default_chat_template",):
        if getattr(tokenizer, attr, None) and not callable(getattr(type(tokenizer), attr, None)):
            found.append(f"{source}: {attr}")
            setattr(tokenizer, attr, None)
    return found


def assert_no_chat_template(tokenizer: Any) -> None:
    """Raise if any path could still render a chat template."""
    if getattr(tokenizer, "chat_template", None):
        raise ContaminationError("tokenizer still carries a chat template after neutralisation")
    try:
        tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    except ContaminationError:
        raise
    except Exception:  # the expected outcome: transformers refuses without a template
        return
    raise ContaminationError("apply_chat_template still renders a template (a default template is active)")


def control_tokens(tokenizer: Any) -> dict[int, str]:
    """Ids of every special / added-special token (chat-control tokens such as ``<|im_start|>``)."""
    ids: dict[int, str] = {}
    for tok_id, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(added, "special", False):
            ids[int(tok_id)] = str(added.content)
    for tok, tok_id in zip(tokenizer.all_special_tokens, tokenizer.all_special_ids, strict=True):
        if tok_id is not None:
            ids[int(tok_id)] = tok
    return ids


@dataclass
class Guard:
    """The only encode path: no injected special tokens, audited ids, exact round trip, the model's BOS."""

    tokenizer: Any
    control: dict[int, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    bos: BosRule = field(default_factory=lambda: BosRule(None, None, "none"))

    @classmethod
    def install(cls, tokenizer: Any, source: str, bos: BosRule | None = None) -> Guard:
        removed = strip_chat_templates(tokenizer, source)
        assert_no_chat_template(tokenizer)
        rule = bos or BosRule(None, None, "none given")
        guard = cls(tokenizer=tokenizer, control=control_tokens(tokenizer), bos=rule)
        guard.report = {
            "chat_templates_removed": removed,
            "control_tokens": len(guard.control),
            "bos": rule.report,
            **guard.check_special_injection(),
        }
        return guard

    def check_special_injection(self) -> dict[str, Any]:
        """Detect a tokenizer that adds BOS/EOS even with ``add_special_tokens=False``."""
        without = self.tokenizer(_PROBE, add_special_tokens=False)["input_ids"]
        with_ = self.tokenizer(_PROBE, add_special_tokens=True)["input_ids"]
        injected = [self.control[i] for i in without if i in self.control]
        if injected:
            raise ContaminationError(
                f"tokenizer injects special tokens {injected} even with add_special_tokens=False"
            )
        # A tokenizer that *would* add BOS/EOS by default is fine: we never ask it to. Recorded.
        return {"default_adds_special_tokens": with_ != without, "probe_ids_without_special": len(without)}

    def encode(
        self, text: str, *, allow_special: bool = False, bos: bool = True, as_text: bool = False
    ) -> list[int]:
        """Ids of ``text``; ``bos=True`` starts a sequence (the model's BOS rule), ``False`` encodes a part
        that follows other ids (a continuation, an answer, a delimiter). ``as_text=True`` encodes
        control-token *strings* as ordinary characters: for prompts that embed what a model wrote."""
        return self.encode_batch([text], allow_special=allow_special, bos=bos, as_text=as_text)[0]

    def encode_batch(
        self, texts: Sequence[str], *, allow_special: bool = False, bos: bool = True, as_text: bool = False
    ) -> list[list[int]]:
        if not texts:
            return []
        # split_special_tokens: a string such as "<start_of_turn>" becomes its character pieces, never the id.
        batch = self.tokenizer(list(texts), add_special_tokens=False, split_special_tokens=as_text)
        batch = batch["input_ids"]
        for text, ids in zip(texts, batch, strict=True):
            self.audit(text, ids, allow_special=allow_special)
            if bos and self.bos.bos_id is not None and ids[:1] == [self.bos.bos_id]:
                raise ContaminationError(
                    f"text starts with the BOS token {self.bos.token!r}; the guard adds it (never twice)"
                )
        return [self.bos.apply(list(ids)) if bos else list(ids) for ids in batch]

    def text_of(self, ids: Sequence[int]) -> str:
        """The text of a sequence the guard encoded: its BOS (if the rule added one) is not text."""
        return self.decode(self.bos.strip(list(ids)))

    def audit(self, text: str, ids: Sequence[int], *, allow_special: bool = False) -> None:
        """Raise on a control token the text did not literally ask for, or on any round-trip mismatch."""
        for pos, tok_id in enumerate(ids):
            if tok_id not in self.control:
                continue
            token = self.control[tok_id]
            if token not in text:
                raise ContaminationError(
                    f"encode injected control token {token!r} (id {tok_id}) at position {pos} "
                    f"that the prompt text does not contain"
                )
            if not allow_special:
                raise ContaminationError(
                    f"prompt contains chat-control token {token!r} (id {tok_id}) at char "
                    f"{text.index(token)}; pass allow_special=True only if this is intended"
                )
        back = self.decode(ids)
        if back != text:
            at = next((i for i, (a, b) in enumerate(zip(back, text, strict=False)) if a != b), None)
            at = min(len(back), len(text)) if at is None else at
            raise ContaminationError(
                f"prompt does not round-trip through the tokenizer at char {at}: "
                f"sent {text[at : at + 20]!r}, decoded {back[at : at + 20]!r}"
            )

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def control_in(self, text: str) -> list[str]:
        """Control tokens that appear literally in ``text`` (used on model outputs)."""
        return sorted({tok for tok in self.control.values() if tok and tok in text})
