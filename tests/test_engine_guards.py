"""Each contamination guard, with the real SmolLM2 tokenizer (it carries a real ChatML template)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.defaults import smollm2_dir
from selfalign.engine.guards import Guard
from selfalign.errors import ContaminationError


def _tiny_dir(tmp_path: Path, tiny_engine: Engine, tokenizer_files: dict[str, str | None]) -> Path:
    """A local HF dir: tiny weights + the real tokenizer files, with chosen template sources."""
    d = tmp_path / "model"
    tiny_engine.model.save_pretrained(d, safe_serialization=True)
    src = smollm2_dir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / name, d / name)
    for name, content in tokenizer_files.items():
        if content is None:
            (d / name).unlink(missing_ok=True)
        else:
            (d / name).write_text(content, encoding="utf-8")
    return d


def test_cached_default_really_carries_a_template_from_gguf_metadata():
    # The rebuilt cache keeps what the GGUF metadata had, so the guard below has something to strip.
    assert "<|im_start|>" in (smollm2_dir() / "chat_template.jinja").read_text()


def test_template_from_chat_template_jinja_is_removed(tiny_engine, tmp_path):
    d = _tiny_dir(tmp_path, tiny_engine, {"chat_template.jinja": "{{ '<|im_start|>' }}{{ messages }}"})
    engine = Engine.load(ModelSpec(ref=str(d), sentinels=False))
    removed = engine.provenance["guards"]["chat_templates_removed"]
    assert any("tokenizer.chat_template" in r for r in removed)
    assert engine.tokenizer.chat_template is None
    with pytest.raises(Exception, match=r"(?i)template"):
        engine.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_template_from_tokenizer_config_key_is_removed(tiny_engine, tmp_path):
    cfg = json.loads((smollm2_dir() / "tokenizer_config.json").read_text())
    cfg["chat_template"] = "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}"
    d = _tiny_dir(
        tmp_path, tiny_engine, {"tokenizer_config.json": json.dumps(cfg), "chat_template.jinja": None}
    )
    engine = Engine.load(ModelSpec(ref=str(d), sentinels=False))
    assert engine.provenance["guards"]["chat_templates_removed"]
    assert engine.tokenizer.chat_template is None


def test_no_template_survives_a_save_pretrained_round_trip(tiny_engine, tmp_path):
    out = tmp_path / "saved"
    tiny_engine.tokenizer.save_pretrained(out)
    assert not (out / "chat_template.jinja").exists()
    assert "chat_template" not in json.loads((out / "tokenizer_config.json").read_text())
    d = _tiny_dir(tmp_path, tiny_engine, {})
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(out / name, d / name)
    reloaded = Engine.load(ModelSpec(ref=str(d), sentinels=False))
    assert reloaded.provenance["guards"]["chat_templates_removed"] == []
    assert reloaded.tokenizer.chat_template is None


def test_literal_control_token_in_prompt_is_refused_naming_it(tiny_engine):
    with pytest.raises(ContaminationError, match=r"<\|im_start\|>"):
        tiny_engine.guard.encode("<|im_start|>user hi")
    with pytest.raises(ContaminationError, match=r"<\|im_end\|>"):
        tiny_engine.generate(["Hello<|im_end|>"])
    ids = tiny_engine.guard.encode("<|im_start|>user hi", allow_special=True)
    assert ids[0] == tiny_engine.tokenizer.convert_tokens_to_ids("<|im_start|>")


def test_other_added_special_tokens_are_audited_too(tiny_engine):
    with pytest.raises(ContaminationError, match="<file_sep>"):
        tiny_engine.guard.encode("code<file_sep>more")


class _Wrapped:
    """Delegates to the real tokenizer but misbehaves in one chosen way."""

    def __init__(self, tok, *, inject_bos: bool = False, lossy: bool = False):
        self._tok, self._inject, self._lossy = tok, inject_bos, lossy

    def __getattr__(self, name):
        return getattr(self._tok, name)

    def __call__(self, text, add_special_tokens=False, **kw):
        enc = self._tok(text, add_special_tokens=add_special_tokens, **kw)
        if self._inject:
            bos = self._tok.convert_tokens_to_ids("<|im_start|>")
            ids = enc["input_ids"]
            enc["input_ids"] = [[bos, *x] for x in ids] if ids and isinstance(ids[0], list) else [bos, *ids]
        return enc

    def decode(self, ids, **kw):
        text = self._tok.decode(ids, **kw)
        return text.replace("  ", " ") if self._lossy else text


def test_tokenizer_that_injects_bos_despite_the_flag_is_detected(tiny_engine):
    with pytest.raises(ContaminationError, match="injects special tokens"):
        Guard.install(_Wrapped(tiny_engine.tokenizer, inject_bos=True), source="test")


def test_injected_control_id_not_in_text_is_refused(tiny_engine):
    guard = Guard(tokenizer=tiny_engine.tokenizer, control=tiny_engine.guard.control)
    bos = tiny_engine.tokenizer.convert_tokens_to_ids("<|im_start|>")
    with pytest.raises(ContaminationError, match="injected"):
        guard.audit("hello", [bos, *tiny_engine.guard.encode("hello")])


def test_prompt_that_does_not_round_trip_is_refused(tiny_engine):
    guard = Guard(tokenizer=_Wrapped(tiny_engine.tokenizer, lossy=True), control=tiny_engine.guard.control)
    guard.encode("one space only")  # round-trips: fine
    with pytest.raises(ContaminationError, match="round-trip"):
        guard.encode("two  spaces")


def test_sentinels_are_stored_verbatim(tiny_engine):
    sentinels = tiny_engine.provenance["sentinels"]
    assert sentinels[0]["input"] == "The capital of France is"
    again = tiny_engine.generate([s["input"] for s in sentinels], GenParams(max_new_tokens=12))
    assert [g.raw for g in again] == [s["output"] for s in sentinels]
