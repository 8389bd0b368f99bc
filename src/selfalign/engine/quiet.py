"""Keep library chatter (progress bars, info logs, deprecation warnings) off a command's error output.

A one-line error must be one line whatever the cache holds: on a fresh machine the first GGUF conversion
printed ``Converting and de-quantizing GGUF tensors...`` (a bare ``tqdm`` inside transformers, which its
own progress-bar switch does not reach) to stderr before the error. What was said goes to the ``selfalign``
logger at DEBUG level, so ``--verbose`` logging can still show it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

log = logging.getLogger("selfalign.library")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    captured = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
        if captured.getvalue().strip():
            log.debug("library output: %s", captured.getvalue().strip())
