"""The training stages' own engine: loaded from the run's model spec, with the training quantization."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from selfalign.engine import Engine, ModelSpec
from selfalign.errors import ConfigError
from selfalign.train.common import check_quant
from selfalign.train.config import TrainSettings

if TYPE_CHECKING:
    from selfalign.stages.base import StageContext


def training_spec(spec: ModelSpec | str | None, settings: TrainSettings) -> ModelSpec:
    """The run's model spec with the training quantization; refuses 4/8-bit on CPU before loading."""
    if spec is None:
        raise ConfigError("training stage needs ctx.extra['model_spec'] (the run's ModelSpec or model ref)")
    if isinstance(spec, str):
        spec = ModelSpec(ref=spec)
    check_quant(settings)
    return dataclasses.replace(spec, quant=settings.quant)


def training_engine(ctx: StageContext, settings: TrainSettings) -> Engine:
    """A fresh engine for training (its model gets wrapped), never the run's shared one."""
    engine = Engine.load(training_spec(ctx.extra.get("model_spec"), settings))
    engine.text_is_data = True  # training rows are model text
    return engine
