"""SFT loss masking on the real SmolLM2 and Gemma tokenizers: every prompt label (Gemma's BOS included) is
-100; every completion token, including the end delimiter and EOS, is trained. Checked on what TRL's
SFTTrainer actually feeds the model."""

from __future__ import annotations

import itertools

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


@pytest.fixture(scope="module", params=["tiny-random-llama", "tiny-random-gemma3"])
def trainer(tmp_path_factory, request):
    engine = Engine.load(ModelSpec(ref=request.param, sentinels=False))  # real SmolLM2 / Gemma tokenizer
    settings = SFTSettings(max_steps=1, tensorboard=False, padding_free=False)  # TRL's padded collator
    return engine, build_trainer(engine, EXAMPLES, settings, tmp_path_factory.mktemp("sft"))


def test_every_prompt_label_masked_every_completion_token_trained(trainer):
    engine, tr = trainer
    assert type(engine.tokenizer).__name__.startswith(("GPT2", "Gemma", "Tokenizers", "PreTrainedTokenizer"))
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(EXAMPLES))])
    eos = eos_id(engine)
    for row, (prompt, completion) in enumerate(EXAMPLES):
        prompt_ids = engine.guard.encode(prompt)
        n = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, :n].tolist()
        labels = batch["labels"][row, :n].tolist()
        assert ids[: len(prompt_ids)] == prompt_ids
        bos = engine.guard.bos.bos_id
        assert bos is None or (ids[0] == bos and ids.count(bos) == 1)
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


@pytest.mark.parametrize("mode", [{"padding_free": True}, {"packing": True}], ids=["padding-free", "packing"])
def test_flattened_modes_keep_the_mask_and_cut_rows_to_max_length(tmp_path, mode):
    """Padding-free and packed batches (one flat row, position ids restart per example) train the same
    tokens as padded ones: prompt labels -100, completions trained, no example longer than max_length."""
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))
    settings = SFTSettings(max_steps=1, tensorboard=False, max_length=12, **mode)
    tr = build_trainer(engine, EXAMPLES, settings, tmp_path)
    assert max(len(r) for r in tr.train_dataset["input_ids"]) <= 12
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(tr.train_dataset))])
    width = batch["input_ids"].shape[1]
    starts = [i for i, p in enumerate(batch["position_ids"][0].tolist()) if p == 0] + [width]
    assert batch["input_ids"].shape[0] == 1 and len(starts) - 1 == len(EXAMPLES)
    expected = {}  # the example's cut ids -> its expected labels
    for prompt, completion in EXAMPLES:
        n_prompt = len(engine.guard.encode(prompt))
        full = (engine.guard.encode(prompt) + engine.guard.encode(completion, bos=False) + [eos_id(engine)])[
            :12
        ]
        expected[tuple(full)] = [-100] * min(n_prompt, 12) + full[n_prompt:]
    for a, b in itertools.pairwise(starts):  # packing may reorder examples, never change one
        ids = tuple(batch["input_ids"][0, a:b].tolist())
        assert ids in expected
        assert batch["labels"][0, a:b].tolist() == expected[ids]
    tr.train()
    assert tr.state.global_step == 1


@pytest.mark.parametrize("mode", [{"padding_free": True}, {"packing": True}], ids=["padding-free", "packing"])
def test_flattened_examples_do_not_attend_to_each_other(tmp_path, mode):
    """One flat row of several examples gives each example the logits it gets alone: the position ids that
    restart per example make the attention block-diagonal (no flash-attention needed)."""
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))
    tr = build_trainer(engine, EXAMPLES, SFTSettings(max_steps=1, tensorboard=False, **mode), tmp_path)
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(tr.train_dataset))])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    starts = [i for i, p in enumerate(batch["position_ids"][0].tolist()) if p == 0]
    tr.model.eval()
    with torch.no_grad():
        flat = tr.model(**inputs).logits[0]
        for a, b in itertools.pairwise([*starts, batch["input_ids"].shape[1]]):
            alone = tr.model(input_ids=batch["input_ids"][:, a:b]).logits[0]
            assert torch.allclose(flat[a:b], alone, atol=1e-4), (a, b)
