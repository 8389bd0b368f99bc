"""IFEval's own checkers (lm-eval's) on fixed answers whose verdicts were worked out by hand, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ifeval_answers import ANSWERS, EXPECTED
from selfalign.benchmarks import ifeval_checkers
from selfalign.benchmarks.ifeval_checkers import install_punkt, load_checkers
from selfalign.benchmarks.ifeval_data import load_ifeval
from selfalign.benchmarks.ifeval_score import score_response
from selfalign.errors import DataError, MissingDependencyError

SAMPLE = Path(__file__).parent / "data" / "ifeval" / "ifeval_sample.jsonl"


@pytest.fixture(scope="module")
def checkers():
    return load_checkers()


@pytest.fixture(scope="module")
def rows(checkers):
    return {r.key: r for r in load_ifeval(SAMPLE, checkers)}


def test_sample_loads_and_covers_every_ifeval_instruction(checkers, rows):
    assert len(rows) == 20
    used = {i for r in rows.values() for i in r.instruction_id_list}
    assert used == set(checkers.instructions_registry.INSTRUCTION_DICT)  # all 25 ids
    assert rows["1002"].kwargs[1] == {"num_words": 60, "relation": "less than"}


@pytest.mark.parametrize("key", sorted(ANSWERS))
def test_fixed_answers_get_the_hand_computed_verdicts(checkers, rows, key):
    result = score_response(checkers, rows[key], ANSWERS[key])
    strict, loose = EXPECTED[key]
    assert (list(result.strict), list(result.loose)) == (strict, loose)


def test_an_english_answer_to_the_french_prompt_fails(checkers, rows):
    english = "My ideal weekend starts with a long walk by the sea and a quiet evening reading a good book."
    assert score_response(checkers, rows["1010"], english).strict == (False,)


def test_sentences_are_counted_by_nltks_punkt_model_not_a_naive_split(checkers):
    util = sys.modules["lm_eval.tasks.ifeval.instructions_util"]
    # Punkt knows 'dr' and 'mr' are abbreviations: 2 sentences. Splitting at every '. ' would give 4.
    assert util.count_sentences("Dr. Smith met Mr. Jones today. They talked for an hour.") == 2
    assert checkers.instructions_registry  # the registry came from the same, offline import


def test_langdetect_is_seeded(checkers):
    from langdetect import DetectorFactory

    assert DetectorFactory.seed == 0


def test_punkt_model_is_written_in_nltks_format_and_loads_in_nltk(tmp_path, monkeypatch):
    import nltk
    from nltk.data import FileSystemPathPointer
    from nltk.tokenize.punkt import PunktSentenceTokenizer, load_punkt_params

    root, sha = install_punkt(tmp_path)
    monkeypatch.setattr(nltk.data, "path", [str(root), *nltk.data.path])  # NLTK reads only from its path
    english = root / "tokenizers" / "punkt_tab" / "english"
    assert sorted(p.name for p in english.iterdir()) == [
        "abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt",
    ]  # fmt: skip
    params = load_punkt_params(FileSystemPathPointer(str(english)))
    assert {"dr", "mr", "p.m", "u.s"} <= params.abbrev_types and len(params.abbrev_types) == 156
    assert len(params.ortho_context) > 20000
    text = "It opened at 9 a.m. on Monday. Dr. Lee was first in line."
    assert PunktSentenceTokenizer(params).tokenize(text) == ["It opened at 9 a.m. on Monday.",
                                                              "Dr. Lee was first in line."]  # fmt: skip
    (english / "abbrev_types.txt").write_text("damaged")  # a damaged copy is rewritten, same hash
    assert install_punkt(tmp_path) == (root, sha)
    assert len((english / "abbrev_types.txt").read_text().splitlines()) == 156



def test_a_punkt_install_that_loses_the_race_keeps_the_winners_model(tmp_path, monkeypatch):
    """Parallel test workers on a cold cache: another process puts its (intact) model in place first; this
    one must neither fail nor remove it, and leaves no temp dir behind."""
    first, _ = install_punkt(tmp_path / "a")  # an intact model to play the other process's
    english = tmp_path / "b" / "tokenizers" / "punkt_tab" / "english"
    real = ifeval_checkers.os.replace

    def other_process_first(src, dst):
        import shutil

        shutil.copytree(first / "tokenizers" / "punkt_tab" / "english", english)
        (english / "theirs").write_text("")
        real(src, dst)  # the OS refuses: the directory is there and not empty

    monkeypatch.setattr(ifeval_checkers.os, "replace", other_process_first)
    install_punkt(tmp_path / "b")
    assert (english / "theirs").exists()  # the winner's directory, untouched
    assert sorted(p.name for p in english.parent.iterdir()) == ["english"]

def test_a_missing_extra_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "punkt.data.english", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError) as e:
        ifeval_checkers.punkt_files()
    assert "\n" not in str(e.value) and "pip install 'selfalign[ifeval]'" in str(e.value)


def test_checkers_load_and_score_with_no_network_in_a_fresh_process(tmp_path):
    """A new cache dir (no punkt model yet) and every socket refused: the checkers still load and count."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse; socket.getaddrinfo = refuse\n"
        "from selfalign.benchmarks.ifeval_checkers import load_checkers\n"
        "import sys; c = load_checkers()\n"
        "util = sys.modules['lm_eval.tasks.ifeval.instructions_util']\n"
        "print(util.count_sentences('The cat sat. The dog ran. The bird sang.'))\n"
    )
    env = {**os.environ, "SELFALIGN_CACHE": str(tmp_path), "NLTK_DATA": str(tmp_path / "none")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "3"
    assert "Downloaded punkt_tab" not in out.stdout and "Error loading" not in out.stderr
    assert (tmp_path / "nltk_data" / "tokenizers" / "punkt_tab" / "english" / "collocations.tab").is_file()


# A letter_frequency letter that is not a letter is scored as lm-eval scores it: tests/test_ifeval_quirks.py
NC, NW = "punctuation:no_comma", "length_constraints:number_words"


def row(ids: list[str], kwargs: list[dict], **over) -> dict:
    return {"key": 1, "prompt": "x", "instruction_id_list": ids, "kwargs": kwargs, **over}


BAD = [
    (row(["nope:nothing"], [{}]), "instruction_id_list[0]: unknown IFEval id"),
    (row([NC], []), "kwargs: expected a list of 1 objects"),
    (row([NC, NW], [{}, {"relation": "less than"}]), f"kwargs[1]: {NW} needs 'num_words'"),
    (row([NW], [{"num_words": 0, "relation": "less than"}]), "needs 'num_words' (missing, null, empty or 0"),
    (row([NC], [{"num_words": 3}]), f"kwargs[0]: {NC} takes no arguments, not 'num_words'"),
    (row([NW], [{"num_words": 5, "relation": "at most"}]), "refuses these arguments"),
    (row([NC], [{}], key=True), ":1: key:"),
    (row([NC], [{}], prompt=" "), ":1: prompt:"),
]


@pytest.mark.parametrize(("record", "message"), BAD)
def test_bad_rows_are_one_line_naming_file_line_and_field(checkers, tmp_path, record, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError) as e:
        load_ifeval(path, checkers)
    assert str(e.value).startswith(f"{path}:1: ") and message in str(e.value) and "\n" not in str(e.value)


def test_null_kwargs_are_dropped_as_lm_eval_drops_them_and_keys_are_unique(checkers, tmp_path):
    row = {
        "key": 7,
        "prompt": "x",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{"num_words": None, "language": None}],
    }  # the Hugging Face copy's layout
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl:2: key: duplicate key '7' \(first on line 1\)"):
        load_ifeval(path, checkers)
    path.write_text(json.dumps(row) + "\n")
    assert load_ifeval(path, checkers)[0].kwargs == ({},)
