"""response_language: realistic text passes its own language and fails every other (our own sentences)."""

from __future__ import annotations

import pytest

from selfalign.constraints import check
from selfalign.constraints.language import LANGUAGES, language_verdict, script_counts, stopword_hits

SAMPLES = {
    "English": "Rivers carry water from the hills to the sea, and they shape the land on the way. Over many"
    " years this slow work cuts deep valleys.",
    "French": "Les rivières portent l'eau des collines jusqu'à la mer, et elles façonnent le paysage. Avec le"
    " temps, ce travail lent creuse des vallées profondes.",
    "German": "Flüsse tragen das Wasser von den Hügeln bis zum Meer, und sie formen dabei die Landschaft. Mit"
    " der Zeit gräbt diese langsame Arbeit tiefe Täler.",
    "Spanish": "Los ríos llevan el agua de las colinas hasta el mar y dan forma al paisaje. Con el tiempo,"
    " este trabajo lento excava valles profundos.",
    "Italian": "I fiumi portano l'acqua dalle colline fino al mare e modellano il paesaggio. Con il tempo"
    " questo lavoro lento scava valli profonde.",
    "Portuguese": "Os rios levam a água das colinas até o mar e dão forma à paisagem. Com o tempo, esse"
    " trabalho lento cava vales profundos.",
    "Russian": "Реки несут воду с холмов к морю и меняют облик земли. Со временем эта медленная работа"
    " вырезает глубокие долины.",
    "Greek": "Τα ποτάμια μεταφέρουν νερό από τους λόφους στη θάλασσα και αλλάζουν τη μορφή της γης.",
    "Arabic": "تحمل الأنهار الماء من التلال إلى البحر وتغير شكل الأرض مع مرور الوقت.",
    "Hindi": "नदियाँ पहाड़ियों से समुद्र तक पानी ले जाती हैं और धरती का आकार बदलती हैं।",
    "Korean": "강은 언덕에서 바다로 물을 나르고 오랜 시간에 걸쳐 땅의 모양을 바꾼다.",
    "Japanese": "川は丘から海へ水を運び、長い時間をかけて土地の形を変えます。",
    "Chinese": "河流把水从山丘带到大海，并在漫长的岁月里改变大地的形状。",
}


def test_every_supported_language_has_a_sample() -> None:
    assert set(SAMPLES) == set(LANGUAGES)


@pytest.mark.parametrize("target", LANGUAGES)
@pytest.mark.parametrize("written", LANGUAGES)
def test_text_passes_only_its_own_language(written: str, target: str) -> None:
    result = check(SAMPLES[written], {"type": "response_language", "params": {"language": target}})
    assert result.passed == (written == target), (written, target, result.detail)


def test_a_few_foreign_names_do_not_change_the_language() -> None:
    text = "We met Дмитрий and 太郎 at the station, and then we walked to the old harbour together."
    assert language_verdict(text, "English")[0]


def test_mixed_scripts_below_the_threshold_fail_with_the_measured_share() -> None:
    text = "Привет. This answer switched to English after one word and stayed there for the rest."
    ok, detail = language_verdict(text, "Russian")
    assert not ok and "of letters are in the CYRILLIC script (mostly LATIN)" in detail


def test_short_answers_without_function_words_fail_latin_languages() -> None:
    # A documented limit: "Oui." has no stopword, so it cannot be told from other Latin languages.
    ok, detail = language_verdict("Oui.", "French")
    assert not ok and "only 0 of 1 words" in detail
    assert not language_verdict("12345 !!!", "English")[0]


def test_helpers_count_scripts_and_stopwords() -> None:
    assert script_counts("ab вг 山か")["CYRILLIC"] == 2
    assert script_counts("ab вг 山か")["HIRAGANA"] == 1
    hits = stopword_hits("The cat and the dog sont là.")
    assert hits["English"] == 3 and hits["French"] == 1
