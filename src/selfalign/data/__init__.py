"""Data layer: JSONL I/O (``jsonl``), record schemas (``schemas``), dedup (``dedup``), QC flags (``qc``),
held-out split and leakage (``split``), dataset summaries (``inspect``). See docs/DATA.md."""
