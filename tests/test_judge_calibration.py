"""Calibration cost controls: shared scoring between scorers, the per-weights cache, cheap auto defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfalign.engine import Engine
from selfalign.judge import calibrate, checkset
from selfalign.judge.contrast import NEUTRAL_INSTRUCTION
from selfalign.judge.memo import MemoEngine
from selfalign.judge.select import cached_calibrate, calibration_key, choose
from selfalign.prompts.format import get_format


class Counting:
    """The real tiny engine, counting logprobs calls and scored sequences; optional fake weight hashes."""

    def __init__(self, engine: Engine, weights: dict[str, str] | None = None) -> None:
        self._engine, self.calls, self.sequences = engine, 0, 0
        self.provenance = {**engine.provenance, "weights_sha256": weights or {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def logprobs(self, requests: Any, adapter: Any = None, batch_size: int = 16) -> Any:
        self.calls += 1
        self.sequences += sum(len(o) for _, o in requests)
        return self._engine.logprobs(requests, adapter=adapter, batch_size=batch_size)


def test_likelihood_scorers_share_one_engine_call(tiny_engine: Engine) -> None:
    eng = Counting(tiny_engine)
    both = calibrate(eng, ["likelihood-contrast", "likelihood-contrast-end"], n_per_kind=2,  # type: ignore[arg-type]
                     kinds=checkset.OPEN_KINDS)  # fmt: skip
    # One call, each distinct (prompt, completion) once: the kinds reuse the same good pool answers.
    fmt, cases = get_format(), checkset.build(2, 0, checkset.OPEN_KINDS)
    distinct = {(fmt.prompt(ins), fmt.completion(r)) for c in cases for r in (c.pair.a, c.pair.b)
                for ins in (c.pair.instruction, NEUTRAL_INSTRUCTION)}  # fmt: skip
    assert eng.calls == 1 and eng.sequences == len(distinct) < 3 * 2 * 2 * 2
    alone = calibrate(tiny_engine, ["likelihood-contrast-end"], n_per_kind=2, kinds=checkset.OPEN_KINDS)
    pick = [(r.kind, r.correct) for r in both.rows if r.scorer == "likelihood-contrast-end"]
    assert pick == [(r.kind, r.correct) for r in alone.rows]
    assert {r.kind for r in both.rows} == set(checkset.OPEN_KINDS)


def test_memo_engine_scores_each_request_once(tiny_engine: Engine) -> None:
    eng = Counting(tiny_engine)
    memo = MemoEngine(eng)  # type: ignore[arg-type]
    first = memo.logprobs(
        [("Instruction: x\nResponse:", [" a", " b"]), ("Instruction: y\nResponse:", [" a"])]
    )
    again = memo.logprobs([("Instruction: y\nResponse:", [" a", " c"])])
    assert eng.sequences == 4 and memo.calls == 2
    assert again[0][0].sum == first[1][0].sum


def test_calibration_cache_is_keyed_by_weights_n_and_seed(tiny_engine: Engine, tmp_path: Path) -> None:
    eng = Counting(tiny_engine, weights={"model.safetensors": "ab" * 32})
    kw: dict[str, Any] = {"seed": 0, "kinds": checkset.OPEN_KINDS, "adapter": None, "cache_dir": tmp_path}
    t1, cached1 = cached_calibrate(eng, ["likelihood-contrast"], n_per_kind=1, **kw)  # type: ignore[arg-type]
    calls = eng.calls
    t2, cached2 = cached_calibrate(eng, ["likelihood-contrast"], n_per_kind=1, **kw)  # type: ignore[arg-type]
    assert (cached1, cached2) == (False, True) and eng.calls == calls and t2.rows == t1.rows
    _, cached3 = cached_calibrate(eng, ["likelihood-contrast"], n_per_kind=2, **kw)  # type: ignore[arg-type]
    assert not cached3 and eng.calls > calls
    other = Counting(tiny_engine, weights={"model.safetensors": "cd" * 32})
    key = calibration_key(eng, ["likelihood-contrast"], 1, 0, checkset.OPEN_KINDS, None)  # type: ignore[arg-type]
    assert key != calibration_key(other, ["likelihood-contrast"], 1, 0, checkset.OPEN_KINDS, None)  # type: ignore[arg-type]
    # Models built in code are identified by their state-dict hash, so they get a key too.
    tiny_key = calibration_key(tiny_engine, ["likelihood-contrast"], 1, 0, checkset.OPEN_KINDS, None)
    assert tiny_key not in (None, key)


def test_auto_measures_open_kinds_only_and_records_the_choice(tiny_engine: Engine) -> None:
    choice = choose(tiny_engine, "auto", n_per_kind=1, seed=0, calibrate_named=False, require_pointwise=True,
                    candidates=["likelihood-contrast", "likelihood-contrast-end"])  # fmt: skip
    assert choice.table is not None and choice.scorer.name == choice.table.chosen
    assert {r.kind for r in choice.table.rows} == set(checkset.OPEN_KINDS)
    assert set(choice.table.model_based) == {"likelihood-contrast", "likelihood-contrast-end"}
