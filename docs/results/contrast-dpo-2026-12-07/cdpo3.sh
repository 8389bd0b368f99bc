#!/bin/bash
# As it ran on 2026-12-07 (paths of that machine; see cdpo.sh).
# V3: the 73 contrast pairs, the 15 rejected answers that ran to the token limit trained open; DPO seed 0, dev only
cd /work/wt3
export PYTHONPATH=/work/wt3/src
PY=/work/main/.venv/bin/python
E=/work/exp/cdpo3
R=/work/proof/runs/p8
mkdir -p $E
/usr/bin/time -f "dpo s0 %e s" $PY /work/coord/dpo_exp.py $R /work/exp/cdpo/pairs-open.jsonl $E 0 > $E/dpo-s0.log 2>&1; echo EXIT $? >> $E/dpo-s0.log
/usr/bin/time -f "deveval %e s" $PY /work/coord/eval_exp.py $R/split/dev.jsonl $E/dev-eval dpoopen-s0=$E/dpo-s0/adapter > $E/dev-eval.log 2>&1; echo EXIT $? >> $E/dev-eval.log
