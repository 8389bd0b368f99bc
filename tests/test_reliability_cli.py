"""Issue 28 items 5, 6, 9: the CLI answers at once, and every bad option or input file is one line.

- ``--help``, ``--version``, usage errors, ``config show`` and ``data validate`` import neither torch nor
  transformers nor TRL (checked in a fresh interpreter; no timings: those are in ``make bench``).
- Every numeric option of every command refuses an out-of-range value in one line naming the option; a test
  walks the command tree so a new option cannot go untested.
- Ctrl-C while the CLI starts is one line and exit 130; a library's FutureWarning never reaches the console;
  atomic writes get the umask's mode; ``evaluate --benchmark ifeval`` compares with the stronger base and
  its table is never cut when piped.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer

import selfalign
from selfalign import cli
from selfalign.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "configs" / "tiny.yaml"
IFEVAL_SAMPLE = ROOT / "tests" / "data" / "ifeval" / "ifeval_sample.jsonl"
TINY = "tiny-random-llama"
HEAVY = ("torch", "transformers", "trl")


def _python(code: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- item 6: what answers at once never imports the heavy stack -------------------------------------------

_MODULES = """
import json, sys
from selfalign.cli import run
code = run(json.loads(sys.argv[1]))
print("MODULES " + json.dumps([code, sorted(m for m in {heavy!r} if m in sys.modules)]), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sft.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Q{i}", "completion": " A"}) + "\n" for i in range(3)))
    return path


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["run", "--bogus"], 2),
        (["sft", "--bogus"], 2),
        (["no-such-command"], 2),
        (["generate", "-p", "x", "--max-new-tokens", "-5"], 2),
        (["evaluate", "--help"], 0),
        (["config", "show"], 0),
        (["config", "show", str(TINY_CONFIG)], 0),
        (["config", "show", "--doc"], 0),
        (["data", "validate", "SFT", "--kind", "sft"], 0),
    ],
)
def test_quick_commands_do_not_import_torch_transformers_or_trl(argv, code, sft_file):
    argv = [str(sft_file) if a == "SFT" else a for a in argv]
    done = _python(_MODULES.format(heavy=HEAVY), json.dumps(argv))
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("MODULES "))
    got_code, heavy = json.loads(line.removeprefix("MODULES "))
    assert got_code == code, done.stderr
    assert heavy == [], f"{argv} imported {heavy}"


def test_version(capsys):
    assert cli.run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"selfalign {selfalign.__version__}"


def test_help_constants_match_their_sources():
    from selfalign.commands import BASE_FEW_SHOT, DEFAULT_MODEL, SCORER_NAMES
    from selfalign.engine.defaults import DEFAULT_MODEL as ENGINE_DEFAULT
    from selfalign.evaluate.conditions import BASE_FEW_SHOT as CONDITION
    from selfalign.judge import SCORERS

    assert (DEFAULT_MODEL, BASE_FEW_SHOT, SCORER_NAMES) == (ENGINE_DEFAULT, CONDITION, SCORERS)


# --- item 5: every numeric option refuses an out-of-range value in one line ---------------------------------

# Required arguments per command; the files need not exist: the option is refused before anything is read.
REQUIRED = {
    "generate": ["-p", "x", "--model", TINY],
    "instructions": ["--out", "OUT", "--model", TINY],
    "split": ["--instructions", "IN", "--out", "OUT"],
    "responses": ["--instructions", "IN", "--out", "OUT", "--model", TINY],
    "judge": ["IN", "--model", TINY],
    "pairs": ["IN", "--out", "OUT", "--model", TINY],
    "sft": ["--data", "IN", "--out", "OUT", "--model", TINY],
    "dpo": ["--data", "IN", "--out", "OUT", "--model", TINY],
    "evaluate": ["--items", "IN", "--out", "OUT", "--model", TINY],
    "compare": ["R:sft", "--baseline", "R:base_few_shot"],
    "data validate": ["IN", "--kind", "sft"],
    "data inspect": ["IN"],
}
# (command, option) -> values it must refuse; every numeric option of every command is listed.
BAD: dict[tuple[str, str], tuple[str, ...]] = {
    ("generate", "--max-new-tokens"): ("-5", "0"),
    ("generate", "--temperature"): ("-1", "nan", "inf"),
    ("generate", "--seed"): ("-1",),
    ("instructions", "--n"): ("0",),
    ("instructions", "--max-prompts"): ("0",),
    ("instructions", "--shots"): ("0",),
    ("instructions", "--temperature"): ("-1", "nan"),
    ("instructions", "--max-new-tokens"): ("0",),
    ("instructions", "--batch-size"): ("0",),
    ("instructions", "--seed"): ("-1",),
    ("split", "--test-fraction"): ("1.5", "0", "nan"),
    ("split", "--seed"): ("-1",),
    ("responses", "--shots"): ("-1",),
    ("responses", "--samples"): ("0",),
    ("responses", "--limit"): ("0",),
    ("responses", "--temperature"): ("-1", "nan"),
    ("responses", "--max-new-tokens"): ("0",),
    ("responses", "--batch-size"): ("0",),
    ("responses", "--seed"): ("-1",),
    ("judge", "--threshold"): ("-1", "nan"),
    ("judge", "--calibration-per-kind"): ("0",),
    ("judge", "--seed"): ("-1",),
    ("judge", "--batch-size"): ("0",),
    ("pairs", "--n-samples"): ("1",),
    ("pairs", "--max-new-tokens"): ("0",),
    ("pairs", "--temperature"): ("0", "nan"),
    ("pairs", "--margin-threshold"): ("nan",),
    ("pairs", "--negatives-ratio"): ("-1",),
    ("pairs", "--calibration-per-kind"): ("0",),
    ("pairs", "--seed"): ("-1",),
    ("pairs", "--batch-size"): ("0",),
    ("sft", "--max-steps"): ("0", "-2"),
    ("sft", "--epochs"): ("0", "inf"),
    ("sft", "--lr"): ("-1", "nan"),
    ("sft", "--batch-size"): ("0",),
    ("sft", "--max-examples"): ("0",),
    ("dpo", "--beta"): ("0", "inf"),
    ("dpo", "--max-steps"): ("0",),
    ("dpo", "--epochs"): ("0",),
    ("dpo", "--lr"): ("0",),
    ("dpo", "--batch-size"): ("0",),
    ("dpo", "--max-pairs"): ("0",),
    ("evaluate", "--max-new-tokens"): ("0",),
    ("evaluate", "--batch-size"): ("0",),
    ("evaluate", "--shots"): ("-1",),
    ("evaluate", "--n-boot"): ("0",),
    ("evaluate", "--seed"): ("-1",),
    ("compare", "--seed"): ("-1",),
    ("data validate", "--max-errors"): ("0",),
    ("data inspect", "--k"): ("-1",),
    ("data inspect", "--seed"): ("-1",),
}


def _numeric_options() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(command: typing.Any, path: list[str]) -> None:
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*path, name])
        for p in getattr(command, "params", []):
            ann = p.type_descriptor.annotation
            if ann in (int, float) or {int, float} & set(typing.get_args(ann)):
                found.add((" ".join(path), p.opts[0]))

    walk(typer.main.get_command(cli.app), [])
    return found


def test_every_numeric_option_of_every_command_has_a_refusal_case():
    assert _numeric_options() == set(BAD)


@pytest.mark.parametrize(
    ("command", "option", "value"), [(c, o, v) for (c, o), values in BAD.items() for v in values]
)
def test_an_out_of_range_option_is_one_line_naming_it(command, option, value, tmp_path, capsys):
    args = [str(tmp_path / "in.jsonl") if a == "IN" else str(tmp_path / "out") if a == "OUT" else a
            for a in REQUIRED[command]]  # fmt: skip
    code = cli.run([*command.split(), *args, option, value])
    line = _one_line(capsys.readouterr().err)
    assert code in (1, 2) and line.startswith("error: "), line
    assert option in line, line
    assert not (tmp_path / "out").exists()  # refused before anything was written


# --- item 5: Ctrl-C while the CLI starts ------------------------------------------------------------

_INTERRUPT_AT = """
import sys

MODULE = sys.argv[1]


class Stop:  # Ctrl-C arriving while MODULE is being imported
    def find_spec(self, name, path=None, target=None):
        if name == MODULE:
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Stop())
sys.argv = ["selfalign", *sys.argv[2:]]
from selfalign.cli import main
main()
"""


@pytest.mark.parametrize(
    ("module", "argv"),
    [
        ("selfalign.commands.engine", ["--help"]),  # while the commands are registered
        ("selfalign.stages.split", ["split", "--instructions", "x", "--out", "y"]),  # a command's imports
        ("selfalign.console.routing", ["--version"]),  # before any handler is installed
    ],
)
def test_ctrl_c_while_starting_is_one_line_and_exit_130(module, argv):
    done = _python(_INTERRUPT_AT, module, *argv)
    assert done.returncode == 130, done.stderr
    assert "interrupted" in _one_line(done.stderr)


# --- item 9 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_atomic_files_get_the_mode_the_umask_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = write_text_atomic(tmp_path / "report.html", "x")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask == plain.stat().st_mode & 0o777


def test_a_library_futurewarning_never_reaches_the_console(tmp_path, sft_file):
    # transformers 5.23 warns that TrainingArguments' gradient_checkpointing is deprecated (a FutureWarning).
    done = _python(
        "import sys; from selfalign.cli import main; sys.argv[0] = 'selfalign'; main()",
        "sft", "--data", str(sft_file), "--out", str(tmp_path / "o"), "--model", TINY, "--max-steps", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "FutureWarning" not in done.stderr + done.stdout


def test_only_a_library_deprecation_is_kept_off_the_console(monkeypatch, caplog):
    import logging
    import warnings

    from selfalign.console.routing import library_deprecations_logged

    shown: list[type[Warning]] = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, category, *a, **k: shown.append(category))
    library, ours = typer.__file__, selfalign.__file__
    with caplog.at_level(logging.DEBUG, logger="selfalign.library"), library_deprecations_logged():
        warnings.showwarning(FutureWarning("renamed"), FutureWarning, library, 1)
        warnings.showwarning(UserWarning("odd input"), UserWarning, library, 2)
        warnings.showwarning(FutureWarning("ours"), FutureWarning, ours, 3)
    assert shown == [UserWarning, FutureWarning]  # the library's FutureWarning went to the log instead
    assert "renamed" in caplog.text


@pytest.fixture(scope="module")
def ifeval_zero_shot_stronger(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, typing.Any], str]:
    """``evaluate --benchmark ifeval`` on the sample, piped (80 columns), with base zero-shot made to pass
    every prompt (scores patched: a random tiny model passes too few to tell the bases apart)."""
    import selfalign.benchmarks.ifeval_run as ifeval_run

    score = ifeval_run.score_records

    def zero_shot_passes(checkers, rows, condition, gens):  # type: ignore[no-untyped-def]
        records = score(checkers, rows, condition, gens)
        if condition == "base_zero_shot":
            for r in records:
                r["prompt_strict"] = r["prompt_loose"] = True
        return records

    out = tmp_path_factory.mktemp("ifeval") / "out"
    mp = pytest.MonkeyPatch()
    mp.setattr(ifeval_run, "score_records", zero_shot_passes)
    mp.setenv("COLUMNS", "80")
    captured = tmp_path_factory.mktemp("stdout") / "stdout.txt"
    try:
        with captured.open("w") as f, contextlib.redirect_stdout(f):
            code = cli.run(
                [
                    "evaluate",
                    "--benchmark",
                    "ifeval",
                    "--data",
                    str(IFEVAL_SAMPLE),
                    "--out",
                    str(out),
                    "--model",
                    TINY,
                    "--max-new-tokens",
                    "4",
                    "--n-boot",
                    "50",
                ]
            )
    finally:
        mp.undo()
    assert code == 0
    return json.loads((out / "results.json").read_text()), captured.read_text()


def test_ifeval_compares_with_the_stronger_base_by_default(ifeval_zero_shot_stronger):
    results, _ = ifeval_zero_shot_stronger
    assert results["baseline"] == "base_zero_shot"
    assert results["baseline_rule"].startswith("stronger base")
    few = results["conditions"]["base_few_shot"]["ifeval"]["prompt_strict"]
    assert few["vs_baseline"] is not None  # few-shot is now the one compared


def test_ifeval_table_is_never_cut_when_piped(ifeval_zero_shot_stronger):
    results, printed = ifeval_zero_shot_stronger
    assert "…" not in printed, printed
    for name, res in results["conditions"].items():
        r = res["ifeval"]["prompt_strict"]
        assert f"{r['passed']}/{r['n']}" in printed and name in printed


# --- item 5: every input file kind the CLI reads ------------------------------------------------------------

_FILES = {
    "bad_yaml.yaml": b"model: [unclosed\n",
    "unknown_key.yaml": b"bogus: 1\n",
    "wrong_type.yaml": b"split:\n  test_fraction: abc\n",
    "non_finite.yaml": b"dpo:\n  beta: .inf\n",
    "a_list.yaml": b"- a\n- b\n",
    "binary.yaml": b"\xff\xfe\x00model",
    "bad_json.jsonl": b'{"id": "a", "instruction": "x"\n',
    "no_field.jsonl": b'{"id": "a"}\n',
    "empty.jsonl": b"",
    "binary.jsonl": b"\xff\xfe\n",
    "ifeval_no_ids.jsonl": b'{"key": 1, "prompt": "x"}\n',
}
M = ["--model", TINY]
# (argv with FILE/OUT placeholders, the file it must name, what the line must say)
FILE_FAULTS = [
    (["config", "show", "bad_yaml.yaml"], "bad_yaml.yaml:2", "invalid YAML"),
    (["config", "show", "unknown_key.yaml"], "unknown_key.yaml", "bogus: unknown key"),
    (["config", "show", "wrong_type.yaml"], "wrong_type.yaml", "split.test_fraction"),
    (["config", "show", "non_finite.yaml"], "non_finite.yaml", "dpo.beta"),
    (["config", "show", "a_list.yaml"], "a_list.yaml", "mapping"),
    (["config", "show", "binary.yaml"], "binary.yaml", "not valid UTF-8"),
    (["config", "show", "DIR"], "DIR", "Is a directory"),
    (["config", "show", "missing.yaml"], "missing.yaml", "No such file"),
    (["run", "bad_yaml.yaml", "--run-dir", "OUT"], "bad_yaml.yaml:2", "invalid YAML"),
    (["evaluate", "--items", "bad_json.jsonl", "--out", "OUT", *M], "bad_json.jsonl:1", "malformed JSON"),
    (["evaluate", "--items", "no_field.jsonl", "--out", "OUT", *M], "no_field.jsonl:1", "text"),
    (["evaluate", "--items", "empty.jsonl", "--out", "OUT", *M], "empty.jsonl", "no held-out items"),
    (["evaluate", "--items", "binary.jsonl", "--out", "OUT", *M], "binary.jsonl:1", "UTF-8"),
    (["evaluate", "--items", "missing.jsonl", "--out", "OUT", *M], "missing.jsonl", "not found"),
    (["evaluate", "--items", "DIR", "--out", "OUT", *M], "DIR", "directory"),
    (
        ["evaluate", "--benchmark", "ifeval", "--data", "ifeval_no_ids.jsonl", "--out", "OUT", *M],
        "ifeval_no_ids.jsonl:1",
        "instruction_id_list",
    ),
    (["split", "--instructions", "bad_json.jsonl", "--out", "OUT"], "bad_json.jsonl:1", "malformed JSON"),
    (["split", "--instructions", "missing.jsonl", "--out", "OUT"], "missing.jsonl", "not found"),
    (["responses", "--instructions", "bad_json.jsonl", "--out", "OUT", *M], "bad_json.jsonl:1", "JSON"),
    (["sft", "--data", "bad_json.jsonl", "--out", "OUT", *M], "bad_json.jsonl:1", "malformed JSON"),
    (["dpo", "--data", "no_field.jsonl", "--out", "OUT", *M], "no_field.jsonl:1", "prompt"),
    (["judge", "bad_json.jsonl", *M], "bad_json.jsonl:1", "malformed JSON"),
    (["pairs", "bad_json.jsonl", "--out", "OUT", *M], "bad_json.jsonl:1", "malformed JSON"),
    (["data", "validate", "binary.jsonl", "--kind", "eval"], "binary.jsonl:1", "UTF-8"),
    (["data", "validate", "DIR", "--kind", "eval"], "DIR", "directory"),
    (["data", "inspect", "bad_json.jsonl"], "bad_json.jsonl:1", "malformed JSON"),
    (["report", "DIR"], "DIR", "not a selfalign run directory"),
    (["report", "missing_dir"], "missing_dir", "no such run directory"),
    (["report", "DAMAGED"], "DAMAGED/manifest.json:1", "malformed JSON"),
    (["export", "DIR", "--out", "OUT"], "DIR", "not a selfalign run directory"),
    (["export", "missing_dir", "--out", "OUT"], "missing_dir", "no such run directory"),
    (["compare", "DIR:sft", "--baseline", "DIR:base_few_shot"], "DIR/evaluate/items.jsonl", "no such file"),
]


@pytest.mark.parametrize(
    ("argv", "named", "says"), FILE_FAULTS, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_a_bad_input_file_is_one_line_naming_it(argv, named, says, tmp_path, capsys):
    for name, data in _FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "DIR").mkdir()
    (tmp_path / "DAMAGED").mkdir()
    (tmp_path / "DAMAGED" / "manifest.json").write_text("garbage{")

    def place(a: str) -> str:
        head, sep, tail = a.partition(":")
        if head in _FILES or head in ("DIR", "DAMAGED", "OUT") or head.startswith("missing"):
            return str(tmp_path / head) + sep + tail
        return a

    assert cli.run([place(a) for a in argv]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: ") and str(tmp_path / named) in line and says in line, line
    out = tmp_path / "OUT"  # nothing written: at most the lock a writing command takes first
    assert not out.exists() or {p.name for p in out.iterdir()} <= {".lock"}, sorted(out.iterdir())
    assert not (tmp_path / "DIR" / "report.html").exists()
