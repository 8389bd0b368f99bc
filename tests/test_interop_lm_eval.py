"""lm-evaluation-harness's HF backend on a selfalign export gives selfalign's own greedy answers.

A tiny run (SmolLM2's tokenizer, no BOS) is split by the pipeline and its SFT adapter trained by the real
stage, at a learning rate high enough to move the random model's greedy answer; the export is then scored
by lm-eval 0.4.13 (``hf`` model, ``apply_chat_template=True``, a local task YAML over a JSONL written here,
``generate_until``, greedy) as the merged dir and as base + ``peft=`` adapter, and compared item by item
with ``selfalign evaluate --adapter`` on the same items: the exact prompt text and the answer.
lm-eval loads the export with its own loader (transformers/peft): that is what is being tested.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from export_helpers import chat_ids, tiny_base, tokenizer
from selfalign.cli import run as cli
from selfalign.engine import ModelSpec
from selfalign.export import export_run
from selfalign.export.lm_eval_task import task_yaml
from selfalign.pipeline import run_pipeline
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext
from selfalign.stages.sft import SFTStageConfig
from selfalign.stages.sft import run as run_sft

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is in the 'ifeval' extra")

# Minutes on 2 cores (~2.5 for the llama half, more for Gemma's): opt-in for `make test`, which must stay
# under 10 minutes here; .ci/run runs both halves on every submission.
pytestmark = pytest.mark.skipif(
    not os.environ.get("SELFALIGN_INTEROP"), reason="opt-in: SELFALIGN_INTEROP=1 (minutes; run by .ci/run)"
)

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
MAX_NEW = 16


# Gemma's 262k-entry vocabulary makes its run several minutes on 2 cores: opt-in, like the kill-anywhere test.
GEMMA = pytest.param(
    "tiny-random-gemma3",
    marks=pytest.mark.skipif(
        not os.environ.get("SELFALIGN_INTEROP_GEMMA"), reason="opt-in: SELFALIGN_INTEROP_GEMMA=1 (minutes)"
    ),
)
BOS_TEXT = {"tiny-random-llama": "", "tiny-random-gemma3": "<bos>"}  # the model's own BOS rule


@pytest.fixture(scope="module", params=["tiny-random-llama", GEMMA])
def exported(request, tmp_path_factory) -> dict[str, Any]:
    """Split by the pipeline; SFT by the real stage (lr 3e-2, constant, 6 steps); exported both ways.

    SmolLM2's tokenizer declares no BOS; Gemma 3's adds one (the template writes it, lm-eval must not add
    a second)."""
    ref = request.param
    d = tmp_path_factory.mktemp("interop")
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["model"]["ref"] = ref
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = d / "run"
    run_pipeline(d / "config.yaml", run, progress=False, until="split")
    f = get_format()
    train = [json.loads(x) for x in (run / "split" / "train.jsonl").read_text().splitlines()][:8]
    sft = run / "sft-input.jsonl"
    sft.write_text("".join(json.dumps({"id": r["id"], "prompt": f.prompt(r["text"]),
                                       "completion": f.completion("Yes. A short reply.")}) + "\n"
                           for r in train))  # fmt: skip
    cfg = SFTStageConfig(max_steps=6, batch_size=4, save_steps=6, learning_rate=3e-2, lr_scheduler="constant",
                         warmup_ratio=0.0)  # fmt: skip
    ctx = StageContext(name="sft", config=cfg, out_dir=run / "sft", inputs={"sft": sft}, engine=lambda: None,
                       extra={"model_spec": ModelSpec(ref=ref)})  # fmt: skip
    run_sft(ctx)
    manifest = json.loads((run / "sft" / "manifest.json").read_text())
    (run / "sft" / "manifest.json").write_text(json.dumps({**manifest, "complete": True}))  # as the pipeline
    export_run(run, d / "adapter", "sft")
    export_run(run, d / "merged", "sft", merge=True)
    tiny_base(ref, tokenizer(d / "adapter")).save_pretrained(str(d / "base"))  # the base, for peft=
    items = d / "items.jsonl"
    rows = [json.loads(x) for x in (run / "split" / "test.jsonl").read_text().splitlines()]
    items.write_text("".join(json.dumps({"id": r["id"], "instruction": r["text"], "category": "c"}) + "\n"
                             for r in rows))  # fmt: skip
    task = d / "task"
    task.mkdir()
    (task / "selfalign_interop.yaml").write_text(task_yaml(items, f.stop, MAX_NEW))
    return {"dir": d, "items": items, "task": task, "ref": ref}


@pytest.fixture(scope="module")
def selfalign_answers(exported) -> dict[str, dict[str, tuple[str, str]]]:
    """``selfalign evaluate`` with the exported adapter: {condition: {id: (prompt, answer)}}."""
    out = exported["dir"] / "selfalign-eval"
    argv = ["evaluate", "--items", str(exported["items"]), "--out", str(out), "--model", exported["ref"],
            "--adapter", f"sft={exported['dir'] / 'adapter'}", "--critic", "none",
            "--max-new-tokens", str(MAX_NEW), "--n-boot", "10", "--no-categories"]  # fmt: skip
    assert cli(argv) == 0
    got: dict[str, dict[str, tuple[str, str]]] = {}
    for line in (out / "items.jsonl").read_text().splitlines():
        r = json.loads(line)
        got.setdefault(r["condition"], {})[r["id"]] = (r["prompt"], r["output"])
    return got


def lm_eval_answers(exported: dict[str, Any], model_args: str, chat: bool = True) -> dict[str, Any]:
    """lm-eval's context string and generated answer per item id."""
    from lm_eval.tasks import TaskManager

    res: dict[str, Any] = lm_eval.simple_evaluate(
        model="hf", model_args=f"{model_args},dtype=float32", tasks=["selfalign_interop"],
        task_manager=TaskManager(include_path=str(exported["task"]), include_defaults=False),
        apply_chat_template=chat, batch_size=1, device="cpu", predict_only=True, log_samples=True,
    )  # fmt: skip
    samples = res["samples"]["selfalign_interop"]
    return {s["doc"]["id"]: (s["arguments"][0][0], s["resps"][0][0]) for s in samples}


@pytest.mark.parametrize("kind", ["merged", "peft"])
def test_lm_eval_gives_selfalign_greedy_answers(exported, selfalign_answers, kind):
    d = exported["dir"]
    args = f"pretrained={d / 'merged'}" if kind == "merged" else (
        f"pretrained={d / 'base'},peft={d / 'adapter'},tokenizer={d / 'adapter'}")  # fmt: skip
    theirs = lm_eval_answers(exported, args)
    ours = selfalign_answers["sft"]
    assert sorted(theirs) == sorted(ours) and len(ours) >= 5
    for i, (prompt, answer) in ours.items():
        context, generated = theirs[i]
        # the chat template renders selfalign's prompt text exactly; selfalign records the text after the BOS
        # it feeds as a token, the template writes the BOS as text
        assert context == BOS_TEXT[exported["ref"]] + prompt
        # lm-eval cuts at the stop string but keeps the space after "Response:"; selfalign strips
        assert generated.strip() == answer, i
    # the adapter is applied: the answers are not the base model's
    base = selfalign_answers["base_zero_shot"]
    assert any(base[i][1] != ours[i][1] for i in ours)


def test_lm_eval_encodes_the_template_ids_with_one_bos(exported):
    """lm-eval's own encoder on its rendered context gives the export's template ids (which the export
    checked equal the ids selfalign fed), with exactly one BOS where the model's rule has one."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(exported["dir"] / "merged"), dtype="float32", device="cpu", batch_size=1)
    tok = tokenizer(exported["dir"] / "adapter")
    bos = BOS_TEXT[exported["ref"]]
    for line in exported["items"].read_text().splitlines():
        user = [{"role": "user", "content": json.loads(line)["instruction"]}]
        ids = lm.tok_batch_encode([lm.apply_chat_template(user)])[0][0].tolist()
        assert ids == chat_ids(tok, user)
        if bos:
            assert ids[0] == tok.convert_tokens_to_ids(bos) and ids.count(ids[0]) == 1
        else:
            assert ids[0] != tok.bos_token_id


def test_without_the_chat_template_lm_eval_feeds_the_bare_instruction(exported, selfalign_answers):
    theirs = lm_eval_answers(exported, f"pretrained={exported['dir'] / 'merged'}", chat=False)
    for i, (prompt, _) in selfalign_answers["sft"].items():
        assert theirs[i][0] != prompt and prompt.endswith(f"Instruction: {theirs[i][0]}\nResponse:")
