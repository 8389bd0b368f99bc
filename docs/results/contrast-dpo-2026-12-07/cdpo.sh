#!/bin/bash
# The sequence as it ran on 2026-12-07 (paths of that machine: /work/proof/runs/p8 = runs/p8, /work/exp/cdpo = runs/cdpo).
# contrast-pair DPO across seeds 0-2 on the seventh run (p8): seed 0 first, dev check, then seeds 1-2, then held-out
cd /work/wt2
export PYTHONPATH=/work/wt2/src
PY=/work/main/.venv/bin/python
E=/work/exp/cdpo
R=/work/proof/runs/p8
/usr/bin/time -f "dpo s0 %e s" $PY /work/coord/dpo_exp.py $R $E/pairs.jsonl $E 0 > $E/dpo-s0.log 2>&1; echo EXIT $? >> $E/dpo-s0.log
/usr/bin/time -f "deveval %e s" $PY /work/coord/eval_exp.py $R/split/dev.jsonl $E/dev-eval dpo-s0=$E/dpo-s0/adapter > $E/dev-eval.log 2>&1; echo EXIT $? >> $E/dev-eval.log
for s in 1 2; do
/usr/bin/time -f "dpo s$s %e s" $PY /work/coord/dpo_exp.py $R $E/pairs.jsonl $E $s > $E/dpo-s$s.log 2>&1; echo EXIT $? >> $E/dpo-s$s.log
done
/usr/bin/time -f "testeval %e s" $PY /work/coord/eval_exp.py $R/split/test.jsonl $E/evaluate-adapters dpo-s0=$E/dpo-s0/adapter dpo-s1=$E/dpo-s1/adapter dpo-s2=$E/dpo-s2/adapter > $E/test-eval.log 2>&1; echo EXIT $? >> $E/test-eval.log
