"""selfalign.prompts: the one text format (``format``), the packaged pools (``pools``) and the few-shot
completion prompt builders (``builders``). See docs/PROMPTS.md."""
