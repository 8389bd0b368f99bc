"""The Trainer's steps and logs go to selfalign's view and log, not to the terminal as raw dicts.

With ``disable_tqdm`` transformers adds a ``PrinterCallback`` that ``print``s every log dict
(``{'loss': '10.77', 'grad_norm': ...}``) to stdout; without it, a ``ProgressCallback`` draws tqdm bars.
:func:`attach` removes both and adds :class:`FeedView`: each optimizer step advances the run's live view,
each log updates its loss and is logged at INFO on ``selfalign.train`` (the run's ``run.log``; the console
with ``--verbose``). ``metrics.jsonl`` keeps every log as before.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from transformers import PrinterCallback, ProgressCallback, Trainer, TrainerCallback

from selfalign import progress

log = logging.getLogger("selfalign.train")
T = TypeVar("T", bound=Trainer)


class FeedView(TrainerCallback):
    """Optimizer steps and logs → the installed :mod:`selfalign.progress` view and ``selfalign.train``."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        view = progress.current()
        if view is not None:  # state.global_step is the checkpoint's on a resumed run
            view.start_task("train", int(state.max_steps), "steps", done=int(state.global_step))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        view = progress.current()
        if view is not None:
            view.advance(1)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not logs:
            return
        log.info("step %d/%d: %s", state.global_step, state.max_steps, _format(logs))
        view = progress.current()
        if view is not None:
            view.train_log(int(state.global_step), dict(logs))


def _format(logs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items())


def attach(trainer: T) -> T:
    """Silence the Trainer's own printing and feed selfalign's view instead; returns ``trainer``."""
    for printer in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(printer)
    trainer.add_callback(FeedView())
    return trainer
