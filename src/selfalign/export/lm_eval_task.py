"""An lm-evaluation-harness task file for selfalign's format over a local JSONL (docs/INTEROP.md).

``generate_until`` with the format's stop strings, greedy, ``doc_to_text`` = the instruction: with
``--apply_chat_template`` and an export's tokenizer, lm-eval feeds exactly the prompt selfalign evaluates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

TASK = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{instruction}}}}"
doc_to_target: ""
generation_kwargs:
  until: {until}
  do_sample: false
  max_gen_toks: {max_new}
metric_list:
  - metric: bypass
"""


def task_yaml(data: Path, stops: Sequence[str], max_new_tokens: int, name: str = "selfalign_interop") -> str:
    """The task YAML for ``data`` (JSONL rows with ``id`` and ``instruction``)."""
    return TASK.format(name=name, data=data, until=json.dumps(list(stops)), max_new=max_new_tokens)
