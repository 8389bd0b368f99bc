"""``selfalign export``: a trained policy as a directory transformers / peft load as is (docs/INTEROP.md)."""

from selfalign.export.build import export_run

__all__ = ["export_run"]
