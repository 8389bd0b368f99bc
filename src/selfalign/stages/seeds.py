"""Several training seeds inside one run: ``sft.seeds`` and ``dpo.seeds`` (docs/TRAINING.md, "Seeds").

One training draw can carry or erase a lift (docs/RESULTS.md: one recipe, four SFT seeds, +4.5 to +0.9
points), so a run can train one adapter per seed and evaluation pools them (``evaluate.across.pool``).
Each seed is a *chain*: its SFT (and SFT rounds), then pairs and DPO (and their rounds) from that SFT's
policy — seed i's DPO starts from seed i's SFT. Every stage of a chain has its own directory and cache key
(``sft-s1``, ``responses-r2-s1``, ``pairs-s1``, ``dpo-s1``) holding its own seed only, so adding a seed
leaves the others cached and a killed run resumes seed by seed. One seed (``seeds`` unset, or ``[s]``)
plans exactly the stages and keys of ``seed: s``: old configs and their cache keys stay valid.

The two lists pair by position; a one-seed list is shared by every chain (``sft.seeds: [0, 1, 2]`` with the
default DPO seed trains three DPO adapters with seed 0, each from its own SFT; ``sft.seeds: [0]`` with
``dpo.seeds: [0, 1]`` trains two DPO adapters from one SFT, on one set of pairs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, NonNegativeInt, field_validator, model_validator

from selfalign.errors import ConfigError

SEED_SUFFIX = re.compile(r"^(?P<group>.+)-s(?P<seed>\d+)$")  # "sft-s1" -> group "sft", seed 1


class SeedList(BaseModel):
    """The ``seeds`` field shared by the sft and dpo sections."""

    seeds: list[NonNegativeInt] | None = Field(
        default=None,
        min_length=1,
        description="Train one adapter per seed inside this run (stages <name>-s<seed>, each cached on its "
        "own; evaluation pools them into the headline). null = the single `seed`; [s] is the same as "
        "seed: s. sft and dpo lists pair by position (seed i's DPO starts from seed i's SFT); a one-seed "
        "list is shared by every chain.",
    )

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError(f"{seeds}: each seed once")
        return seeds

    @model_validator(mode="after")
    def _one_way(self) -> SeedList:
        if self.seeds is not None and "seed" in self.model_fields_set:
            raise ValueError("give seed or seeds, not both")
        return self


def single_seed(cfg: Any, section: str) -> Any:
    """The config one training stage runs with: ``seeds: [s]`` as ``seed: s``; several seeds are refused
    (the pipeline plans one stage per seed; ``selfalign train`` trains one adapter)."""
    seeds = getattr(cfg, "seeds", None)
    if seeds is None:
        return cfg
    if len(seeds) > 1:
        raise ConfigError(
            f"{section}.seeds: {seeds}: one {section} stage trains one seed; `selfalign run` plans a stage "
            "per seed (or give seed: N here)"
        )
    return cfg.model_copy(update={"seed": seeds[0], "seeds": None})


def _section_update(seed: int | None) -> dict[str, Any]:
    """What a chain's stage changes in its section: its own seed, and no list (the key holds one seed)."""
    return {} if seed is None else {"seed": seed, "seeds": None}


@dataclass(frozen=True)
class Chain:
    """One seed's training stages: name suffixes and section updates for its SFT and its DPO side."""

    sft: str  # suffix of the chain's SFT stages: "" (one SFT seed) or "-s<seed>"
    dpo: str  # suffix of its pairs / DPO stages
    sft_update: dict[str, Any] = field(default_factory=dict)
    dpo_update: dict[str, Any] = field(default_factory=dict)


def chains(sft_seeds: list[int] | None, dpo_seeds: list[int] | None) -> list[Chain]:
    """One chain per seed (see the module doc); a single chain has no suffixes and no updates unless a
    one-seed list was given (then only the seed is set, as ``seed: s`` would)."""
    s: list[int | None] = list(sft_seeds) if sft_seeds else [None]
    d: list[int | None] = list(dpo_seeds) if dpo_seeds else [None]
    n = max(len(s), len(d))
    for name, xs, other in (("sft", s, "dpo"), ("dpo", d, "sft")):
        if len(xs) not in (1, n):
            raise ConfigError(
                f"{name}.seeds: {len(xs)} seeds, {other}.seeds {n}: give one seed or as many as "
                f"{other}.seeds (they pair by position: seed i's DPO starts from seed i's SFT)"
            )
    out = []
    for i in range(n):
        ss, ds = s[i if len(s) > 1 else 0], d[i if len(d) > 1 else 0]
        sft = f"-s{ss}" if len(s) > 1 else ""
        dpo = sft if len(s) > 1 else (f"-s{ds}" if len(d) > 1 else "")
        out.append(Chain(sft, dpo, _section_update(ss), _section_update(ds)))
    return out


def seed_groups(names: list[str]) -> dict[str, list[str]]:
    """Condition names grouped by their seed suffix (groups in first-seen order, members by seed):
    ``sft-s0, sft-s1`` -> ``sft``.

    A name without a suffix is its own group of one (a single-seed run's ``sft``)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        m = SEED_SUFFIX.match(n)
        groups.setdefault(m["group"] if m else n, []).append(n)
    return {g: sorted(ns, key=_seed_of) for g, ns in groups.items()}


def _seed_of(name: str) -> int:
    m = SEED_SUFFIX.match(name)
    return int(m["seed"]) if m else -1
