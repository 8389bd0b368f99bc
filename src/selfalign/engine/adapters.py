"""Whether an adapter dir fits the loaded base, checked before peft (or vLLM) reads a byte of it.

peft attaches any LoRA whose module names exist in the base: an adapter trained on another base of the same
shape (the tiny llama, qwen2 and gemma3 share every LoRA shape) loads silently and scores nonsense, and a dir
without its weights file makes peft try the hub with the path as a repo id. So, in this order, each failure
one :class:`AdapterError` line naming the file:

1. ``adapter_config.json``: readable JSON object; ``adapter_model.safetensors`` present and readable (a
   pickled ``adapter_model.bin`` is refused, as model weights in other formats are).
2. The base it names (``base_model_name_or_path``) is the loaded base. Where the adapter records the weight
   hashes of the base it was trained on (``selfalign-base.json``, written by selfalign's training, or the
   card's *Base model provenance* of older adapters), those decide: equal hashes accept a base under another
   name (a moved model dir), different ones refuse the same name. A local dir or ``.gguf`` base has no name
   another machine shares, so a differing name there is logged, not refused; shapes still decide.
3. Every tensor's shape fits the module it adapts (``lora_A``: rank × in features, ``lora_B``: out features
   × rank); a tensor for a module the base lacks is refused.
4. Every tensor is finite: a NaN adapter generates pad tokens and would be scored as an answer.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from selfalign.engine import defaults
from selfalign.errors import ModelRefError

log = logging.getLogger("selfalign")

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
BASE_RECORD = "selfalign-base.json"  # the base's identity and weight hashes, next to a trained adapter
_PREFIX = "base_model.model."
_LORA = re.compile(r"^(?P<module>.+)\.(?P<kind>lora_(?:embedding_)?[AB])(?:\.weight)?$")
_CARD_BLOCK = re.compile(r"## Base model provenance\s*```json\s*(\{.*?\})\s*```", re.S)


class AdapterError(ModelRefError):
    """An adapter dir that is damaged or does not fit the loaded base."""


def read_config(path: Path, name: str) -> dict[str, Any]:
    """``adapter_config.json`` as a dict, or one line naming the file."""
    config = path / CONFIG
    if not config.is_file():
        raise AdapterError(f"adapter '{name}': {path} has no {CONFIG}")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise AdapterError(f"adapter '{name}': {config}: unreadable ({e})") from None
    except ValueError as e:
        raise AdapterError(f"adapter '{name}': {config}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise AdapterError(f"adapter '{name}': {config}: expected a JSON object, got {type(data).__name__}")
    return data


def read_tensors(path: Path, name: str) -> dict[str, Any]:
    """Every tensor of ``adapter_model.safetensors`` (adapters are small), or one line naming the file."""
    weights = path / WEIGHTS
    if not weights.is_file():
        other = " (adapter_model.bin is pickled: convert it to safetensors)" if (
            path / "adapter_model.bin").is_file() else ""  # fmt: skip
        raise AdapterError(f"adapter '{name}': {path} has no {WEIGHTS}{other}")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise AdapterError(f"adapter '{name}': {weights}: damaged or truncated ({e})") from None


def nonfinite(tensors: dict[str, Any]) -> str | None:
    """The first tensor holding NaN or inf, by name, else None."""
    import torch

    return next((k for k in sorted(tensors) if not bool(torch.isfinite(tensors[k]).all())), None)


def check_finite_dir(path: Path, name: str = "adapter") -> None:
    """Refuse an adapter dir with a non-finite tensor (before it is published or exported)."""
    bad = nonfinite(read_tensors(path, name))
    if bad is not None:
        raise AdapterError(
            f"adapter '{name}': {path / WEIGHTS}: tensor {bad} holds NaN or inf values (training diverged)"
        )


def base_record(provenance: dict[str, Any]) -> dict[str, Any]:
    """What a trained adapter records of its base (``selfalign-base.json``): identity and weight hashes."""
    keys = ("model_ref", "public_id", "kind", "architecture", "dtype", "quantization", "weights_sha256")
    return {k: provenance.get(k) for k in keys}


def recorded_base(path: Path) -> dict[str, Any] | None:
    """The base the adapter says it was trained on: ``selfalign-base.json``, else the card's provenance."""
    try:
        data = json.loads((path / BASE_RECORD).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        raise AdapterError(f"{path / BASE_RECORD}: unreadable ({e})") from None
    try:
        match = _CARD_BLOCK.search((path / "README.md").read_text(encoding="utf-8"))
        data = json.loads(match.group(1)) if match else None
    except (OSError, ValueError):
        return None  # a card is documentation: an edited one only loses the hash check
    return data if isinstance(data, dict) else None


def _names(provenance: dict[str, Any]) -> set[str]:
    """Every name the loaded base answers to: its reference, the canonical and public names, its location."""
    out: set[str] = set()
    for v in (provenance.get("model_ref"), provenance.get("public_id"), provenance.get("location")):
        if v:
            out |= {str(v), defaults.canonical(str(v)), _resolved(str(v))}
    return out


def _resolved(ref: str) -> str:
    p = Path(ref).expanduser()
    return str(p.resolve()) if p.exists() else ref


def _hashes_comparable(was: dict[str, Any], now: dict[str, Any]) -> bool:
    """A model built in code is hashed from its tensors, so only the same dtype and quantization compare."""
    if not was.get("weights_sha256") or not now.get("weights_sha256"):
        return False
    if "tiny" in (was.get("kind"), now.get("kind")):
        return all(was.get(k) == now.get(k) for k in ("kind", "dtype", "quantization"))
    return True


def check_identity(path: Path, name: str, config: dict[str, Any], provenance: dict[str, Any]) -> None:
    """The adapter's base is the loaded one (weight hashes where recorded, else the name)."""
    loaded = str(provenance.get("model_ref"))
    record = recorded_base(path)
    if record is not None and _hashes_comparable(record, provenance):
        if record["weights_sha256"] != provenance["weights_sha256"]:
            was = str(record.get("model_ref"))
            how = "other weights under the same name" if was == loaded else "another model"
            raise AdapterError(
                f"adapter '{name}': {path} was trained on base {was!r}, but the loaded base is {loaded!r} "
                f"({how}: the base weight hashes it records differ)"
            )
        return
    named = config.get("base_model_name_or_path")
    if not named or str(named) in _names(provenance) or _resolved(str(named)) in _names(provenance):
        return
    where = f"{path / CONFIG} base_model_name_or_path"
    if provenance.get("kind") in ("local", "gguf"):  # a path names no model another machine shares
        log.warning("adapter '%s': %s is %r, the loaded base is %r; checking shapes only", name, where,
                    named, loaded)  # fmt: skip
        return
    raise AdapterError(
        f"adapter '{name}' was trained on base {named!r} ({where}), but the loaded base is {loaded!r}"
    )


def _features(module: Any) -> tuple[int, int] | None:
    """(in, out) features of a linear-like module, (num, dim) of an embedding; peft's wrappers included."""
    for a, b in (("in_features", "out_features"), ("num_embeddings", "embedding_dim")):
        if isinstance(getattr(module, a, None), int) and isinstance(getattr(module, b, None), int):
            return getattr(module, a), getattr(module, b)
    base = getattr(module, "base_layer", None)
    return _features(base) if base is not None else None


def check_shapes(path: Path, name: str, tensors: dict[str, Any], model: Any) -> None:
    """Every LoRA tensor fits the base module it adapts; other tensors equal the base parameter's shape."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = dict(base.named_parameters())
    weights = path / WEIGHTS
    for key in sorted(tensors):
        shape = tuple(tensors[key].shape)
        target = key.removeprefix(_PREFIX)
        m = _LORA.match(target)
        if m is None:
            want = params.get(target)
            if want is not None and tuple(want.shape) != shape:
                raise AdapterError(f"adapter '{name}': {weights}: {key} has shape {shape}, the base's "
                                   f"{target} is {tuple(want.shape)} (made for another base)")  # fmt: skip
            continue
        module_name = m.group("module")
        try:
            module = base.get_submodule(module_name)
        except AttributeError:
            raise AdapterError(f"adapter '{name}': {weights}: {key} adapts {module_name}, which the loaded "
                               "base does not have (made for another base)") from None  # fmt: skip
        features = _features(module)
        if features is None or len(shape) != 2:
            continue  # a module kind this check does not know: peft decides
        fan_in, fan_out = features
        expect, got, what = ((fan_in, shape[1], "inputs") if m.group("kind").endswith("A")
                             else (fan_out, shape[0], "outputs"))  # fmt: skip
        if expect != got:
            raise AdapterError(f"adapter '{name}': {weights}: {key} has shape {shape}, but the base's "
                               f"{module_name} has {expect} {what} (made for another base)")  # fmt: skip


def check_adapter(path: Path, name: str, provenance: dict[str, Any], model: Any | None) -> None:
    """Everything above, cheapest first; ``model`` None (weights held by vLLM only) skips the shapes."""
    config = read_config(path, name)
    tensors = read_tensors(path, name)
    check_identity(path, name, config, provenance)
    if model is not None:
        check_shapes(path, name, tensors, model)
    bad = nonfinite(tensors)
    if bad is not None:
        raise AdapterError(f"adapter '{name}': {path / WEIGHTS}: tensor {bad} holds NaN or inf values "
                           "(training diverged; it would generate nothing)")  # fmt: skip
