"""SFT loss masking on the real SmolLM2 tokenizer: every prompt label is -100; every completion token,
including the end delimiter and EOS, is trained. Checked on what TRL's SFTTrainer actually feeds the model."""

from __future__ import annotations

import pytest
import torch

from selfalign.engine import Engine, ModelSpec
from selfalign.prompts.format import get_format
from selfalign.train.config import SFTSettings
from selfalign.train.sft import build_trainer
from selfalign.train.tokenize import eos_id

F = get_format()
EXAMPLES = [
    (F.prompt("Name a colour."), F.completion("Blue.")),
    (F.prompt("List two fruits: one red, one yellow."), F.completion("- apple\n- banana")),
    (F.prompt("What is 2+2? Answer: with a number"), F.completion("4: that is all ### done")),
]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))  # real SmolLM2 tokenizer
    settings = SFTSettings(max_steps=1, tensorboard=False)
    return engine, build_trainer(engine, EXAMPLES, settings, tmp_path_factory.mktemp("sft"))


def test_every_prompt_label_masked_every_completion_token_trained(trainer):
    engine, tr = trainer
    assert type(engine.tokenizer).__name__.startswith(("GPT2", "Tokenizers", "PreTrainedTokenizer"))
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(EXAMPLES))])
    eos = eos_id(engine)
    for row, (prompt, completion) in enumerate(EXAMPLES):
        prompt_ids = engine.guard.encode(prompt)
        n = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, :n].tolist()
        labels = batch["labels"][row, :n].tolist()
        assert ids[: len(prompt_ids)] == prompt_ids
        assert all(label == -100 for label in labels[: len(prompt_ids)]), "a prompt token carries loss"
        trained = labels[len(prompt_ids) :]
        assert trained == ids[len(prompt_ids) :], "a completion token is masked"
        assert trained[-1] == eos, "EOS is not trained"
        assert engine.guard.decode(trained[:-1]) == completion, (
            "completion (with \\nEND) not trained verbatim"
        )
        assert engine.guard.decode(trained[:-1]).endswith(F.end)
        assert (batch["labels"][row, n:] == -100).all(), "padding carries loss"


def test_trainer_uses_config_schedule_precision_and_lora(trainer):
    _, tr = trainer
    assert tr.args.lr_scheduler_type.value == "cosine"
    assert tr.args.warmup_steps == pytest.approx(0.1)
    assert tr.args.bf16 is False and tr.args.fp16 is False  # fp32 on CPU
    assert next(tr.model.parameters()).dtype == torch.float32
    lora = tr.model.peft_config["default"]
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (16, 32, 0.1)
    assert set(lora.target_modules) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    trainable = [n for n, p in tr.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
