"""Fixed answers to tests/data/ifeval/ifeval_sample.jsonl and IFEval's verdicts on them, by hand."""

from __future__ import annotations

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
