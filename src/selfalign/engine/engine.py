"""The Engine: one loaded base model, optional LoRA adapters, and the two primitives."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.progress import track

from selfalign import progress
from selfalign.engine import threads  # first: sets the OpenMP wait policy before torch loads
from selfalign.engine.backend import Backend, BackendSpec, resolve, scores_on_backend
from selfalign.engine.generate import generate_batch, plan_rows
from selfalign.engine.loader import Loaded, ModelSpec, load
from selfalign.engine.scoring import batches_by_length, encode_pair, score_shared
from selfalign.engine.sentinels import run_sentinels
from selfalign.engine.types import Generation, GenParams, OptionScore
from selfalign.errors import ModelRefError

T = TypeVar("T")


def halving_on_oom(run: Callable[[list[int]], list[T]], idx: list[int]) -> list[T]:
    """``run(idx)``; on an accelerator out-of-memory error, run the two halves instead (recursively).

    Batches then shrink exactly where memory runs out (long prompts) and stay large elsewhere. Output is
    unchanged: sampling is seeded per row (greedy rows may differ only by float rounding of batch shape).
    """
    import torch  # here, not at module top: threads must run before torch is first imported

    try:
        return run(idx)
    except torch.OutOfMemoryError:
        if len(idx) == 1:
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    half = len(idx) // 2
    return halving_on_oom(run, idx[:half]) + halving_on_oom(run, idx[half:])


class Engine:
    """Everything that uses a model goes through :meth:`generate` and :meth:`logprobs`.

    Adapters are attached to the one base by name and chosen per call (``adapter=None`` is the base), so
    base, SFT and DPO cost one model's memory.
    """

    def __init__(self, loaded: Loaded) -> None:
        self.threads = threads.configure()
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.guard = loaded.guard
        self.provenance = loaded.provenance
        self.adapters: dict[str, str] = {}
        self.progress = True  # progress over generation batches (a run's view or a bar); off for --quiet
        # Prompts that embed what a model wrote (instructions, answers, samples) treat control-token strings
        # in them as plain text: a sampled "<start_of_turn>" is data, not a reason to end a run. Stages, the
        # critic and training set this; `selfalign generate` (a person's text) keeps refusing them.
        self.text_is_data = False
        self.pad_id = int(self.tokenizer.pad_token_id)
        eos = self.model.generation_config.eos_token_id if self.model.generation_config else None
        eos_list = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {int(e) for e in [*eos_list, self.tokenizer.eos_token_id] if e is not None}
        # None: the torch code below (the reference). Otherwise the backend runs the token-id work of both
        # primitives; the guard, seeds, stop-string cutting and provenance stay here (engine/backend.py).
        self.backend: Backend | None = None
        self.score_on_backend = False  # with a backend: logprobs there too, or on the torch model here

    @classmethod
    def load(cls, spec: ModelSpec | str = ModelSpec(), backend: BackendSpec = BackendSpec()) -> Engine:
        engine = cls(load(ModelSpec(ref=spec) if isinstance(spec, str) else spec))
        if resolve(backend, str(engine.provenance["device"])) == "vllm":
            from selfalign.engine.vllm_backend import VllmBackend

            engine.backend = VllmBackend.start(engine, backend)
            engine.score_on_backend = scores_on_backend(backend, str(engine.provenance["device"]))
        engine.provenance["backend"] = (
            {**engine.backend.provenance(), "scoring": "vllm" if engine.score_on_backend else "torch"}
            if engine.backend else {"name": "torch"}
        )  # fmt: skip
        if spec.sentinels if isinstance(spec, ModelSpec) else True:
            engine.provenance["sentinels"] = run_sentinels(engine)
        return engine

    # -- adapters ---------------------------------------------------------------------------------------
    def add_adapter(self, name: str, path: str | Path) -> None:
        """Attach a PEFT LoRA adapter dir under ``name`` (no second copy of the base)."""
        from peft import PeftModel

        path = Path(path)
        if name in self.adapters:
            raise ModelRefError(f"adapter '{name}' is already attached (from {self.adapters[name]})")
        if not (path / "adapter_config.json").is_file():
            raise ModelRefError(f"adapter '{name}': {path} has no adapter_config.json")
        if self.backend is not None:
            self.backend.add_adapter(name, path)
            if self.score_on_backend:
                self.adapters[name] = str(path)
                return
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(path), adapter_name=name)
        else:
            self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
        self.model.eval()
        self.adapters[name] = str(path)

    @contextlib.contextmanager
    def using(self, adapter: str | None) -> Iterator[Any]:
        """The model with ``adapter`` active (``None``: the plain base, adapters disabled)."""
        if adapter is not None and adapter not in self.adapters:
            raise ModelRefError(f"no adapter named '{adapter}'; attached: {sorted(self.adapters) or 'none'}")
        if not self.adapters or (self.backend is not None and self.score_on_backend):
            yield self.model
        elif adapter is None:
            with self.model.disable_adapter():
                yield self.model
        else:
            self.model.set_adapter(adapter)
            yield self.model

    # -- primitive 1 ------------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[str],
        params: GenParams = GenParams(),
        *,
        adapter: str | None = None,
        allow_special: bool = False,
    ) -> list[Generation]:
        """Complete each prompt; results in input order. Every prompt is guarded (audit + round trip)."""
        prompts = list(prompts)
        as_text = self._as_text(allow_special)
        encoded = self.guard.encode_batch(prompts, allow_special=allow_special, as_text=as_text)
        seeds = plan_rows(prompts, params.seed)
        if self.backend is not None:
            with self.using(adapter):
                return self.backend.generate(encoded, seeds, params, adapter)
        out: list[Generation | None] = [None] * len(prompts)
        view = progress.current() if self.progress else None  # a run's live view, else rich's own bar
        with self.using(adapter) as model:

            def run(idx: list[int]) -> list[Generation]:
                rows = ([encoded[i] for i in idx], [seeds[i] for i in idx])
                tick = view.advance if view is not None else None  # rows done and tokens, every step
                return generate_batch(model, self.guard, *rows, params, self.pad_id, self.eos_ids, tick)

            batches = batches_by_length([len(e) for e in encoded], params.batch_size)
            if view is not None:
                view.start_task(f"generate {len(prompts)}", len(prompts), "items")
            for idx in track(batches, description=f"generate {len(prompts)}", transient=True,
                             disable=not self.progress or view is not None or len(batches) < 2):  # fmt: skip
                for i, g in zip(idx, halving_on_oom(run, idx), strict=True):
                    out[i] = g
        return [g for g in out if g is not None]

    # -- primitive 2 ------------------------------------------------------------------------------------
    def logprobs(
        self,
        requests: Sequence[tuple[str, Sequence[str]]],
        *,
        adapter: str | None = None,
        batch_size: int = 16,
        allow_special: bool = False,
    ) -> list[list[OptionScore]]:
        """For each ``(prompt, options)``, the summed and mean log-prob of each option's tokens."""
        flat = [
            encode_pair(self.guard, prompt, option, allow_special, self._as_text(allow_special))
            for prompt, options in requests
            for option in options
        ]
        # Options of one prompt, and prompts that share a prefix (the critic's two label orders), run their
        # shared part once; the numbers equal one full pass per option (tests/test_engine_perf_prefix.py).
        with self.using(adapter) as model:
            scores = (self.backend.score(flat, adapter) if self.backend is not None and self.score_on_backend
                      else score_shared(model, flat, self.pad_id, batch_size))  # fmt: skip
        out, k = [], 0
        for _, options in requests:
            out.append([s for s in scores[k : k + len(options)] if s is not None])
            k += len(options)
        return out

    def _as_text(self, allow_special: bool) -> bool:
        return self.text_is_data and not allow_special

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` itself (a BOS the rule adds to a sequence is not counted)."""
        return len(self.guard.encode(text, bos=False, as_text=self.text_is_data))
