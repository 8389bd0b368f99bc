"""The critic plug point: both orders averaged (so swapping a and b mirrors P), judge scorers wrapped."""

from __future__ import annotations

import pytest

from selfalign.errors import ConfigError
from selfalign.evaluate.critic import PairItem, get_critic

PAIRS = [PairItem("Name a fruit.", "An apple.", "zzzz qqq"), PairItem("Say hi.", "Hello there!", "Hi.")]


@pytest.mark.parametrize("name", ["likelihood-contrast", "ab-pairwise"])
def test_swapping_the_answers_mirrors_the_probability(tiny_engine, name):
    critic = get_critic(name)
    forward = critic.compare(tiny_engine, PAIRS)
    swapped = critic.compare(tiny_engine, [PairItem(p.instruction, p.b, p.a) for p in PAIRS])
    assert all(0.0 <= p <= 1.0 for p in forward)
    assert [f + s for f, s in zip(forward, swapped, strict=True)] == pytest.approx([1.0, 1.0], abs=1e-6)


def test_identical_answers_tie_and_unknown_critics_are_refused(tiny_engine):
    same = get_critic("ab-pairwise").compare(tiny_engine, [PairItem("Say hi.", "Hello.", "Hello.")])
    assert same == pytest.approx([0.5], abs=1e-6)
    with pytest.raises(ConfigError, match="unknown scorer"):
        get_critic("no-such-critic")
