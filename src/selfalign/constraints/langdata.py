"""Data for the response-language check: each language's script and, where scripts are shared, stopwords.

No language-identification library is installed (and none may be downloaded), so the check is a cheap,
deterministic stand-in: the letters' Unicode script, plus, for languages that share a script, which
language's very common function words the answer uses. Each stopword list holds only words that are not
also common in the other listed languages of the same script, so the lists can outvote each other.
"""

from __future__ import annotations

# Script names as the first word of ``unicodedata.name`` for a letter ("CYRILLIC SMALL LETTER A").
# Japanese writes with kana and kanji, so it accepts three scripts (and requires some kana, see language.py).
SCRIPTS: dict[str, tuple[str, ...]] = {
    "English": ("LATIN",),
    "French": ("LATIN",),
    "German": ("LATIN",),
    "Spanish": ("LATIN",),
    "Italian": ("LATIN",),
    "Portuguese": ("LATIN",),
    "Russian": ("CYRILLIC",),
    "Greek": ("GREEK",),
    "Arabic": ("ARABIC",),
    "Hindi": ("DEVANAGARI",),
    "Korean": ("HANGUL",),
    "Japanese": ("HIRAGANA", "KATAKANA", "CJK"),
    "Chinese": ("CJK",),
}

# Scripts without letter case: lowercase/uppercase rules cannot be obeyed in them.
CASELESS_SCRIPTS = frozenset({"ARABIC", "DEVANAGARI", "HANGUL", "HIRAGANA", "KATAKANA", "CJK"})


def _split(words: str) -> list[str]:
    return words.split()


STOPWORDS: dict[str, frozenset[str]] = {
    "English": frozenset(
        _split(
            "the and of to is that it with for was this are you be have not they on by from which what we"
            " your our at or an were has been would will there their"
        )
    ),
    "French": frozenset(
        _split(
            "le les des est une et du qui dans pour pas sur au aux avec ce cette sont nous vous ils elle"
            " très être leur plus"
        )
    ),
    "German": frozenset(
        _split(
            "der die und das ist nicht ein eine mit den dem sich auf auch für von zu wir ich sie werden wird"
            " sind oder aber"
        )
    ),
    "Spanish": frozenset(
        _split(
            "el los las y es por del pero muy más está son lo su sus yo también hay este esta porque cuando"
            " nosotros"
        )
    ),
    "Italian": frozenset(
        _split(
            "il che è della degli gli sono anche molto questo questa nel nella perché più ci hanno"
            " essere alla delle dei dal dalla dalle sul sulla nei ed quello stato suo loro"
        )
    ),
    "Portuguese": frozenset(
        _split(
            "não uma os do da dos em ao são é mais muito isso você também pelo pela seu sua eles foi até à"
            " com esse essa ela ele tem nas num numa já"
        )
    ),
    "Russian": frozenset(
        _split(
            "и в не на что это как с по он она они мы вы я для от из но же все так был к у о со во эта этот"
            " эти его её их бы уже только когда даже или при"
        )
    ),
}

# Languages ``sample_params`` draws: ones a small base model may plausibly write. The rest are for
# hand-written items.
SAMPLED_LANGUAGES = ("English", "French", "German", "Spanish")
