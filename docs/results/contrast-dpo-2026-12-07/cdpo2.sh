#!/bin/bash
# As it ran on 2026-12-07 (paths of that machine; see cdpo.sh).
# V2: contrast pairs + pairs against QC-flagged steered samples (110), DPO seed 0, dev check only
cd /work/wt2
export PYTHONPATH=/work/wt2/src
PY=/work/main/.venv/bin/python
E=/work/exp/cdpo2
R=/work/proof/runs/p8
mkdir -p $E
while pgrep -f cdpo.sh > /dev/null; do sleep 10; done
/usr/bin/time -f "dpo s0 %e s" $PY /work/coord/dpo_exp.py $R /work/exp/cdpo/pairs-qc.jsonl $E 0 110 > $E/dpo-s0.log 2>&1; echo EXIT $? >> $E/dpo-s0.log
/usr/bin/time -f "deveval %e s" $PY /work/coord/eval_exp.py $R/split/dev.jsonl $E/dev-eval dpoqc-s0=$E/dpo-s0/adapter > $E/dev-eval.log 2>&1; echo EXIT $? >> $E/dev-eval.log
