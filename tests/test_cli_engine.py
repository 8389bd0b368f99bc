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
