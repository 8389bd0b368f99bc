"""The Engine: one loaded base model, optional LoRA adapters, and the two primitives."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.progress import Progress

from selfalign import progress
from selfalign.engine import threads  # first: sets the OpenMP wait policy before torch loads
from selfalign.engine.autopick import TORCH_ONLY, Plan, plan, shape_of
from selfalign.engine.backend import Backend, BackendSpec, resolve
from selfalign.engine.generate import plan_rows
from selfalign.engine.loader import Loaded, ModelSpec, load
from selfalign.engine.scoring import encode_pair
from selfalign.engine.sentinels import run_sentinels
from selfalign.engine.torch_backend import TorchBackend, halving_on_oom
from selfalign.engine.types import Generation, GenParams, OptionScore
from selfalign.errors import ModelRefError

__all__ = ["Engine", "halving_on_oom"]


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
        # The torch code (batching, decode, scoring) on self.model; backend.options are the bench's switches.
        self.torch = TorchBackend(self.guard, self.pad_id, self.eos_ids)
        self.score_on_backend = False  # with a backend: logprobs there too, or on the torch model here
        self.plan: Plan = TORCH_ONLY  # the backend of each call's shape (engine/autopick.py)

    @classmethod
    def load(cls, spec: ModelSpec | str = ModelSpec(), backend: BackendSpec = BackendSpec()) -> Engine:
        engine = cls(load(ModelSpec(ref=spec) if isinstance(spec, str) else spec))
        device = str(engine.provenance["device"])
        if resolve(backend, device) == "vllm":
            from selfalign.engine.vllm_backend import VllmBackend

            engine.backend = VllmBackend.start(engine, backend)
            engine.plan = plan(backend, device)
            engine.score_on_backend = engine.plan.pick("scoring") == "vllm"
        engine.provenance["backend"] = (
            {**engine.backend.provenance(), "scoring": "vllm" if engine.score_on_backend else "torch"}
            if engine.backend else {"name": "torch"}
        )  # fmt: skip
        if backend.backend != "torch":  # which backend runs each workload shape, and why
            engine.provenance["backend"]["shapes"] = plan(backend, device).provenance()["shapes"]
        if backend.linear == "packed":  # CPU only; elsewhere provenance says it was not applied
            from selfalign.engine.packed import install

            engine.provenance["backend"]["linear"] = (
                f"packed (oneDNN, {install(engine.model)} layers)" if device == "cpu"
                else f"exact: engine.linear packed applies to CPU fp32 only, not to {device}"
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
        from selfalign.engine.adapters import check_adapter

        # damaged files, another base (name, weight hashes, shapes), NaN tensors: one line, before peft
        check_adapter(path, name, self.provenance, self.model)
        if self.backend is not None:
            self.backend.add_adapter(name, path)
            if not self.plan.needs_torch:
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
        if not self.adapters or (self.backend is not None and not self.plan.needs_torch):
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
        constraints: Sequence[Sequence[dict[str, Any]] | None] | None = None,
    ) -> list[Generation]:
        """Complete each prompt; results in input order. Every prompt is guarded (audit + round trip).

        ``constraints[i]``: the constraint dicts that steer row ``i`` (``selfalign.steer``); ``None``/``[]``
        leaves the row unsteered, token for token as without the argument."""
        prompts = list(prompts)
        as_text = self._as_text(allow_special)
        encoded = self.guard.encode_batch(prompts, allow_special=allow_special, as_text=as_text)
        seeds = plan_rows(prompts, params.seed)
        if self.backend is not None and self.plan.pick(shape_of(encoded, params)) == "vllm":
            if constraints is not None and any(constraints):  # never ignore constraints silently
                raise ModelRefError("steered generation (constraints=...) runs on the torch backend only; "
                                    "set engine.backend: torch")  # fmt: skip
            with self.using(adapter):
                return self.backend.generate(encoded, seeds, params, adapter)
        steers = self._steers(constraints, len(prompts), params)
        view = progress.current() if self.progress else None  # a run's live view, else rich's own bar
        with self.using(adapter) as model, self._ticker(view, len(prompts), params.batch_size) as tick:
            return self.torch.generate(model, encoded, seeds, params, tick=tick, steers=steers)

    def _steers(
        self, constraints: Sequence[Sequence[dict[str, Any]] | None] | None, n: int, params: GenParams
    ) -> list[Any] | None:
        """Each row's steer (``None`` where unsteered), or ``None`` when no row is steered."""
        if constraints is None or not any(constraints):
            return None
        if len(constraints) != n:
            raise ValueError(f"constraints has {len(constraints)} rows for {n} prompts")
        from selfalign.steer import steers_for  # the steer package loads its libraries on first use

        width = int(self.model.get_input_embeddings().num_embeddings)
        return steers_for(constraints, self.tokenizer, set(self.guard.control), width, self.eos_ids,
                          params.stop, params.max_new_tokens)  # fmt: skip

    @contextlib.contextmanager
    def _ticker(self, view: Any, total: int, batch: int) -> Iterator[Callable[[int, int], None] | None]:
        """``tick(rows finished, tokens)`` for the decode loop: the run's view, else a transient bar (only
        for calls larger than one batch), else nothing."""
        if view is not None:
            view.start_task(f"generate {total}", total, "items")
            yield view.advance
        elif not self.progress or total <= batch:
            yield None
        else:
            with Progress(transient=True) as bar:
                task = bar.add_task(f"generate {total}", total=total)
                yield lambda rows, tokens: bar.advance(task, rows)

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
                      else self.torch.score(model, flat, batch_size))  # fmt: skip
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
