"""The backend seam in the main install: torch is the default, vLLM is chosen only when asked and present."""

from __future__ import annotations

import logging

import pytest

from selfalign.config import parse_config
from selfalign.engine import Engine, GenParams, ModelSpec, autopick
from selfalign.engine.backend import BackendSpec, resolve, vllm_distribution
from selfalign.engine.generate import finish
from selfalign.errors import ConfigError, ModelRefError


def test_config_engine_section_defaults_and_refuses_unknown_backends():
    cfg = parse_config({})
    assert cfg.engine.backend == "torch"
    assert BackendSpec(**cfg.engine.model_dump()) == BackendSpec()
    assert parse_config({"engine": {"backend": "auto", "kv_cache_gb": 1}}).engine.kv_cache_gb == 1
    with pytest.raises(ConfigError, match=r"engine\.backend"):
        parse_config({"engine": {"backend": "tgi"}})


def test_resolve_torch_auto_and_vllm(monkeypatch):
    assert resolve(BackendSpec(backend="torch"), "cuda") == "torch"
    installed = vllm_distribution() is not None
    # auto starts vLLM where the measured table picks it for some shape on this kind of machine
    monkeypatch.setattr(autopick, "cores", lambda: 64)  # a CPU the table has no row for: torch
    assert resolve(BackendSpec(backend="auto"), "cpu") == "torch"
    assert resolve(BackendSpec(backend="auto"), "cuda") == ("vllm" if installed else "torch")
    monkeypatch.setattr(autopick, "cores", lambda: 2)
    monkeypatch.setattr(autopick, "isa", lambda: "avx2")
    assert resolve(BackendSpec(backend="auto"), "cpu") == ("vllm" if installed else "torch")
    monkeypatch.setattr(autopick, "isa", lambda: "avx512")  # measured 2026-12-06: vLLM faster on greedy
    assert resolve(BackendSpec(backend="auto"), "cpu") == ("vllm" if installed else "torch")
    monkeypatch.setattr(autopick, "isa", lambda: "aarch64")  # no row for this ISA: torch, the reference
    assert resolve(BackendSpec(backend="auto"), "cpu") == "torch"
    if installed:
        assert resolve(BackendSpec(backend="vllm"), "cpu") == "vllm"
    else:
        with pytest.raises(ModelRefError, match="make vllm"):
            resolve(BackendSpec(backend="vllm"), "cpu")


def test_auto_on_the_avx512_vm_picks_per_shape_as_measured():
    picked = autopick.plan(BackendSpec(backend="auto"), "cpu", n_cores=2, installed=True, vector="avx512")
    assert dict(picked.picks) == {"short_greedy": "vllm", "fewshot_greedy": "vllm", "sampled": "torch",
                                  "scoring": "torch"}  # fmt: skip
    assert "2026-12-06" in picked.reasons["short_greedy"] and "AVX-512" in picked.reasons["short_greedy"]


def test_torch_backend_is_recorded_and_used(tiny_engine):
    assert tiny_engine.backend is None
    assert tiny_engine.provenance["backend"] == {"name": "torch"}



def test_finish_cuts_eos_then_stop_strings_on_decoded_text(tiny_engine):
    guard, eos = tiny_engine.guard, next(iter(tiny_engine.eos_ids))
    ids = guard.encode(" one\nEND two", bos=False)
    prompt = guard.encode("x")
    params = GenParams(stop=("\nEND",))
    g = finish(guard, prompt, [*ids, eos, *ids], None, None, params, 5, {eos})
    assert (g.text, g.stop_reason, g.stop, g.seed) == (" one", "stop", "\nEND", None)
    g = finish(guard, prompt, [*guard.encode(" one two", bos=False), eos, 7], None, None, params, 5, {eos})
    assert (g.raw, g.stop_reason, g.n_tokens) == (" one two", "eos", len(guard.encode(" one two", bos=False)))
    g = finish(guard, prompt, ids, "stop", 2, GenParams(stop=("\nEND",), temperature=0.7), 5, {eos})
    assert g.n_tokens == 2 and g.seed == 5  # the loop's length is kept; a sampled row records its seed


def test_each_launched_process_places_its_weights_on_its_own_gpu(monkeypatch):
    from selfalign.engine.loader import placement

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert (placement("cuda"), placement("cpu")) == ("cuda", "cpu")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert (placement("cuda"), placement("cpu")) == ("cuda:3", "cpu")


def test_children_started_in_the_block_write_into_the_library_log_for_life(capfd, caplog):
    """vLLM's engine processes print logs, bars and C++ warnings on fd 2: none of it reaches the terminal."""
    import os
    import subprocess
    import sys
    import time

    from selfalign.engine.quiet import children_to_log

    caplog.set_level(logging.DEBUG, logger="selfalign.library")
    child = ("import os, sys, time; sys.stderr.write('INFO child starts\\r50%\\r100% loaded\\n'); "
             "sys.stderr.flush(); os.write(2, b'[W utils.cpp:68] NUMA binding\\n'); time.sleep(1.5); "
             "print('later', file=sys.stderr)")  # fmt: skip
    with children_to_log("probe"):
        proc = subprocess.Popen([sys.executable, "-c", child])
        os.write(2, b"parent chatter\n")  # this process's fd 2 (sys.stderr is pytest's here)
    assert proc.wait(timeout=60) == 0  # it wrote "later" after the block ended: still routed
    deadline = time.monotonic() + 10
    while "later" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    os.write(2, b"after the block\n")  # fd 2 is the terminal again
    said = [r.getMessage() for r in caplog.records if r.name == "selfalign.library.probe"]
    # one line per line written (a bar's last state), whichever process wrote first
    assert sorted(said) == ["100% loaded", "[W utils.cpp:68] NUMA binding", "later", "parent chatter"]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name.startswith("selfalign.library"))
    assert capfd.readouterr().err == "after the block\n"


def test_a_failed_start_carries_what_the_children_said(capfd):
    import subprocess
    import sys

    from selfalign.engine.quiet import children_to_log

    with pytest.raises(RuntimeError, match="initialization failed") as info, children_to_log("probe"):
        subprocess.run([sys.executable, "-c", "import sys; sys.exit('root cause: bad head dim')"])
        raise RuntimeError("Engine core initialization failed. See root cause above.")
    assert "root cause: bad head dim" in "".join(info.value.__notes__)
    assert capfd.readouterr().err == ""


def test_a_library_loggers_own_handlers_become_debug_records(capfd, caplog):
    from selfalign.engine.quiet import library_logger_to_log

    lib = logging.getLogger("probe_lib")
    lib.addHandler(logging.StreamHandler())
    lib.propagate = False
    caplog.set_level(logging.DEBUG, logger="selfalign.library")
    library_logger_to_log("probe_lib", "probe_lib")
    library_logger_to_log("probe_lib", "probe_lib")  # idempotent: one forward
    lib.warning("chunked prefill %s", "off")
    assert [r.getMessage() for r in caplog.records] == ["WARNING chunked prefill off"]
    assert capfd.readouterr().err == ""


def test_auto_without_vllm_runs_torch_and_says_why():
    if vllm_distribution() is not None:
        pytest.skip("vLLM is installed here (tests/test_engine_vllm.py covers auto with it)")
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False), backend=BackendSpec("auto"))
    assert engine.backend is None and engine.plan is autopick.TORCH_ONLY
    shapes = engine.provenance["backend"]["shapes"]
    assert engine.provenance["backend"]["name"] == "torch" and set(shapes) == set(autopick.SHAPES)
    assert {v["backend"] for v in shapes.values()} == {"torch"}
    assert all("not installed" in v["why"] for v in shapes.values())


def test_auto_reads_each_shape_off_the_measured_table(monkeypatch):
    p = autopick.plan(BackendSpec("auto"), "cpu", n_cores=2, installed=True, vector="avx2")
    rows = {m.shape: m for m in autopick.MEASURED if m.device == "cpu" and m.isa == "avx2"}
    assert set(rows) == set(autopick.SHAPES)  # every shape measured on this kind of machine
    for shape, m in rows.items():
        assert p.pick(shape) == ("vllm" if m.vllm > m.torch else "torch")
        assert m.date in p.reasons[shape] and f"{m.vllm:g}" in p.reasons[shape]
    # the table is the only place that decides: flip one row and the pick follows
    flipped = tuple(autopick.Measured(**{**m.__dict__, "torch": m.vllm * 2}) if m.shape == "short_greedy"
                    else m for m in autopick.MEASURED)  # fmt: skip
    monkeypatch.setattr(autopick, "MEASURED", flipped)
    again = autopick.plan(BackendSpec("auto"), "cpu", n_cores=2, installed=True, vector="avx2")
    assert again.pick("short_greedy") == "torch"
    # no row for this machine: torch on a CPU, vLLM on a GPU, each with its reason
    big = autopick.plan(BackendSpec("auto"), "cpu", n_cores=64, installed=True, vector="avx2")
    assert not big.needs_vllm and "not measured" in big.reasons["sampled"]
    gpu = autopick.plan(BackendSpec("auto"), "cuda", n_cores=8, installed=True, vector="avx2")
    assert not gpu.needs_torch and "not measured on a GPU" in gpu.reasons["scoring"]


def test_backend_vllm_generates_on_vllm_and_scores_where_engine_scoring_says():
    p = autopick.plan(BackendSpec("vllm"), "cpu", n_cores=2, installed=True, vector="avx2")
    assert [p.pick(s) for s in autopick.SHAPES] == ["vllm", "vllm", "vllm", "torch"]  # scoring: measured
    p = autopick.plan(BackendSpec("vllm", scoring="backend"), "cpu", n_cores=2, installed=True, vector="avx2")
    assert not p.needs_torch and p.reasons["scoring"] == "engine.scoring: backend"
    p = autopick.plan(BackendSpec("auto", scoring="torch"), "cuda", n_cores=8, installed=True, vector="avx2")
    assert p.pick("scoring") == "torch" and p.pick("sampled") == "vllm"
    assert autopick.plan(BackendSpec("torch"), "cuda", installed=True) is autopick.TORCH_ONLY


def test_shape_of_a_generate_call():
    short, long = [[1] * 30] * 4, [[1] * 400] * 4
    assert autopick.shape_of(short, GenParams()) == "short_greedy"
    assert autopick.shape_of(long, GenParams()) == "fewshot_greedy"
    assert autopick.shape_of(short, GenParams(temperature=0.8)) == "sampled"
    assert autopick.shape_of([[1] * (autopick.FEW_SHOT_TOKENS - 1)], GenParams()) == "short_greedy"
