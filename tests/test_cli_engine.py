"""CLI: generate refuses control tokens naming them; shows the exact prompt; --help works."""

from __future__ import annotations

from selfalign.cli import run


def test_generate_refuses_control_token(capsys):
    code = run(["generate", "--model", "tiny-random-llama", "--prompt", "<|im_start|>user hi"])
    err = capsys.readouterr().err
    assert code == 1
    assert "<|im_start|>" in err and err.count("\n") == 1  # one line, no traceback


def test_generate_shows_exact_prompt_and_tokens(capsys):
    code = run(
        [
            "generate",
            "--model",
            "tiny-random-llama",
            "--prompt",
            "Hi:\\nthere",
            "--max-new-tokens",
            "3",
            "--show-tokens",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "'Hi:\\nthere'" in out and "prompt tokens" in out


def test_help_everywhere(capsys):
    for args in (["--help"], ["generate", "--help"], ["doctor", "--help"]):
        assert run(args) == 0
    assert "--show-tokens" in capsys.readouterr().out


def test_one_line_error_on_a_cold_cache(capsys, tmp_path, monkeypatch):
    """A fresh machine: the first use dequantises the GGUF into the cache, whose library progress output
    once reached stderr ahead of the error. The error is still exactly one line."""
    monkeypatch.setenv("SELFALIGN_CACHE", str(tmp_path / "empty-cache"))
    code = run(["generate", "--model", "smollm2-135m-instruct", "--prompt", "<|im_start|>user hi"])
    err = capsys.readouterr().err
    assert code == 1
    assert list((tmp_path / "empty-cache" / "gguf").glob("SmolLM2*"))  # the cold build really ran
    assert "<|im_start|>" in err and err.count("\n") == 1, err


def test_gemma_generate_shows_bos_once_and_refuses_its_turn_token(capsys):
    """The acceptance check of the base-model default, on the real Gemma 3 270M weights."""
    code = run(["generate", "--model", "gemma3-270m", "--prompt", "Instruction: Name a fruit.\\nResponse:",
                "--max-new-tokens", "4", "--show-tokens"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    section = out.split("prompt tokens")[1].split("output tokens")[0]
    pieces = next(line for line in section.splitlines() if ":" in line).split()
    assert pieces[0] == "2:'<bos>'" and sum(p.startswith("2:") for p in pieces) == 1
    # Same tokenizer and guard, random weights: the refusal comes before any weights are used.
    code = run(["generate", "--model", "tiny-random-gemma3", "--prompt", "<start_of_turn>user hi"])
    err = capsys.readouterr().err
    assert code == 1 and "<start_of_turn>" in err and err.count("\n") == 1
