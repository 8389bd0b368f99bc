"""Read scalar metadata from a GGUF header without parsing the whole file.

``gguf.GGUFReader`` maps every field, including the 262k-entry token arrays of Gemma's vocabulary, into
numpy views before it answers anything (23 s for Gemma 3 270M here). The BOS rule needs two scalars, so this
walks the key/value section and skips arrays by their element sizes (well under a second).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from gguf import GGUFValueType

from selfalign.errors import ModelRefError

_SCALARS = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
    n = _read(f, "<Q")
    return f.read(n).decode("utf-8", errors="replace")


def _skip_array(f: BinaryIO) -> None:
    kind = GGUFValueType(_read(f, "<I"))
    count = _read(f, "<Q")
    if kind in _SCALARS:
        f.seek(count * struct.calcsize(_SCALARS[kind]), 1)
    elif kind == GGUFValueType.STRING:
        for _ in range(count):
            f.seek(_read(f, "<Q"), 1)
    else:  # arrays of arrays: walk each
        for _ in range(count):
            _skip_array(f)


def scalar_metadata(path: Path) -> dict[str, Any]:
    """Every scalar and string key of the GGUF header (arrays are skipped)."""
    out: dict[str, Any] = {}
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelRefError(f"{path}: not a GGUF file (bad magic)")
            version = _read(f, "<I")
            if version < 2:
                raise ModelRefError(f"{path}: GGUF version {version} is not supported (need >= 2)")
            _read(f, "<Q")  # tensor count
            for _ in range(_read(f, "<Q")):
                key = _string(f)
                kind = GGUFValueType(_read(f, "<I"))
                if kind == GGUFValueType.ARRAY:
                    _skip_array(f)
                elif kind == GGUFValueType.STRING:
                    out[key] = _string(f)
                else:
                    out[key] = _read(f, _SCALARS[kind])
    except (EOFError, ValueError) as e:
        raise ModelRefError(f"{path}: truncated or corrupt GGUF header ({e or 'unexpected end'})") from e
    return out
