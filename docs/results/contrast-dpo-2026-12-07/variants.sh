#!/bin/bash
# The two dev-only variants of 2026-12-07 as they ran (cdpo2.sh, cdpo3.sh there; paths of that machine, see
# cdpo.sh): DPO seed 0 from the seventh run's sft-s0, then the dev split. V2 = length-matched pairs (all 110
# trained) on the code of 12a54c4; V3 = the 73 pairs with the 15 rejected answers at the token limit open, on
# the code of dbeb183 (each in a worktree of its own).
R=/work/proof/runs/p8
PY=/work/main/.venv/bin/python
variant() {  # CODE_WORKTREE OUT PAIRS NAME [MAX_PAIRS]
    cd "$1" && export PYTHONPATH="$1/src" && mkdir -p "$2"
    /usr/bin/time -f "dpo s0 %e s" $PY /work/coord/dpo_exp.py $R "$3" "$2" 0 ${5:-} > "$2/dpo-s0.log" 2>&1
    /usr/bin/time -f "deveval %e s" $PY /work/coord/eval_exp.py $R/split/dev.jsonl "$2/dev-eval" \
        "$4=$2/dpo-s0/adapter" > "$2/dev-eval.log" 2>&1
}
variant /work/wt2 /work/exp/cdpo2 /work/exp/cdpo/pairs-qc.jsonl dpoqc-s0 110
variant /work/wt3 /work/exp/cdpo3 /work/exp/cdpo/pairs-open.jsonl dpoopen-s0
# V3 held out, seed 0 only (from /work/wt3):
#   $PY /work/coord/eval_exp.py $R/split/test.jsonl /work/exp/cdpo3/evaluate-adapters dpoopen-s0=/work/exp/cdpo3/dpo-s0/adapter
