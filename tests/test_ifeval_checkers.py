"""IFEval's own checkers (lm-eval's) on fixed answers whose verdicts were worked out by hand, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selfalign.benchmarks import ifeval_checkers
from selfalign.benchmarks.ifeval_checkers import install_punkt, load_checkers
from selfalign.benchmarks.ifeval_data import load_ifeval
from selfalign.benchmarks.ifeval_score import score_response
from selfalign.errors import DataError, MissingDependencyError

SAMPLE = Path(__file__).parent / "data" / "ifeval" / "ifeval_sample.jsonl"

# Answers written for the sample's prompts, and IFEval's verdicts per instruction, (strict, loose), worked
# out by reading lm-eval 0.4.13's checkers. Loose also tries the answer without its first line, without its
# last line, without both, and each of those with every '*' removed.
ANSWERS = {
    "1001": "Sure, here is my note:\nHi Sam\nCould I borrow your ladder on Saturday? I will bring it back on "
    "Sunday.\nThanks\nAlex",  # a comma only in the chatty first line: strict fails, loose passes
    "1002": "rain taps on the tin roofs of the harbour while the fishing boats rock gently and the smell of "
    "salt and wet rope drifts through the quiet lanes.",  # lowercase English, 27 words < 60
    "1003": "<<The Keeper of the Light>>\nA tower stands above the foam\nIts lamp a steady guiding star\n"
    "It calls the wandering sailors home\nNo matter where the sailors are\n**Any other questions?**",
    "1004": "Here are my reasons:\n* It saves money.\n* It is healthier.\n* It is fun with friends.\n"
    "- Bonus: it impresses guests.",  # 3 '*' bullets + 1 '-' bullet = 4; without the last line, 3
    "1005": "Bread goes stale because its starch crystallises again as it cools and dries.\n"
    "P.S. Keep it in a paper bag.",  # no 'moisture' in any variant
    "1006": 'Here is the summary:\n"Tides rise and fall because the Moon pulls on the oceans. The Sun adds a '
    'smaller pull. Together they make two high tides a day."',  # 3 Punkt sentences; quoted only loosely
    "1007": '```json\n{"colour": "red", "gears": 21}\n```',
    "1008": "STAY COOL ALL DAY. Not a cheap bottle.",  # not all capitals; 'cheap' is forbidden
    "1010": "Mon week-end idéal commence par une longue promenade au bord de la mer, puis un déjeuner avec "
    "mes amis et une soirée tranquille à lire un bon livre.",
    "1011": "You are READY. Stay CALM and trust your WORK.",  # 3 all-capital words
    "1012": "I have hands at [place] but never wave at [name]. Zig-zag goes my ticking.",  # 2 [..], 2 z
    "1014": "Fresh bread every morning.\n******\nFresh bread every morning.",  # two parts, not different
    "1015": "Gardening teaches patience.\n\nHowever, it also rewards effort.",
    "1016": "My answer is maybe.",
}
EXPECTED = {
    "1001": ([False], [True]),
    "1002": ([True, True], [True, True]),
    "1003": ([True, False], [True, True]),  # '**' after the end phrase: loose removes the asterisks
    "1004": ([False], [True]),
    "1005": ([False, True], [False, True]),
    "1006": ([True, False], [True, True]),
    "1007": ([True], [True]),
    "1008": ([False, False], [False, False]),
    "1010": ([True], [True]),
    "1011": ([True], [True]),
    "1012": ([True, True], [True, True]),
    "1014": ([False], [False]),
    "1015": ([True], [True]),
    "1016": ([True], [True]),
}


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
        "print(sys.modules['lm_eval.tasks.ifeval.instructions_util'].count_sentences('The cat sat. The dog ran. The bird sang.'))\n"
    )
    env = {**os.environ, "SELFALIGN_CACHE": str(tmp_path), "NLTK_DATA": str(tmp_path / "none")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "3"
    assert "Downloaded punkt_tab" not in out.stdout and "Error loading" not in out.stderr
    assert (tmp_path / "nltk_data" / "tokenizers" / "punkt_tab" / "english" / "collocations.tab").is_file()


BAD = [
    ({"key": 1, "prompt": "x", "instruction_id_list": ["nope:nothing"], "kwargs": [{}]},
     "instruction_id_list[0]: unknown IFEval id"),
    ({"key": 1, "prompt": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []},
     "kwargs: expected a list of 1 objects"),
    ({"key": 1, "prompt": "x", "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
      "kwargs": [{}, {"relation": "less than"}]}, "kwargs[1]: length_constraints:number_words needs 'num_words'"),
    ({"key": 1, "prompt": "x", "instruction_id_list": ["length_constraints:number_words"],
      "kwargs": [{"num_words": 0, "relation": "less than"}]}, "needs 'num_words' (missing, null, empty or 0"),
    ({"key": 1, "prompt": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"num_words": 3}]},
     "kwargs[0]: punctuation:no_comma takes no arguments, not 'num_words'"),
    ({"key": 1, "prompt": "x", "instruction_id_list": ["length_constraints:number_words"],
      "kwargs": [{"num_words": 5, "relation": "at most"}]}, "refuses these arguments"),
    ({"key": 1, "prompt": "x", "instruction_id_list": ["keywords:letter_frequency"],
      "kwargs": [{"letter": "7", "let_frequency": 2, "let_relation": "at least"}]}, "letter='7' is not usable"),
    ({"key": True, "prompt": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}, ":1: key:"),
    ({"key": 1, "prompt": " ", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}, ":1: prompt:"),
]  # fmt: skip


@pytest.mark.parametrize(("record", "message"), BAD)
def test_bad_rows_are_one_line_naming_file_line_and_field(checkers, tmp_path, record, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError) as e:
        load_ifeval(path, checkers)
    assert str(e.value).startswith(f"{path}:1: ") and message in str(e.value) and "\n" not in str(e.value)


def test_null_kwargs_are_dropped_as_lm_eval_drops_them_and_keys_are_unique(checkers, tmp_path):
    row = {"key": 7, "prompt": "x", "instruction_id_list": ["punctuation:no_comma"],
           "kwargs": [{"num_words": None, "language": None}]}  # the Hugging Face copy's layout
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl:2: key: duplicate key '7' \(first on line 1\)"):
        load_ifeval(path, checkers)
    path.write_text(json.dumps(row) + "\n")
    assert load_ifeval(path, checkers)[0].kwargs == ({},)
