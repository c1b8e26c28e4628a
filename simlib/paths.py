"""Names to file names: the one function through which any user-given name becomes a path part.

:func:`safe_name` keeps letters of any script (Japanese included), digits, ``-``, ``_`` and ``.``;
turns everything else (path separators, control characters, spaces, markup) into ``_``; never
returns ``.``/``..``, an empty string, a leading dot or a name longer than 100 characters; and
appends a short hash of the original when it had to change it, so two different names never
collide.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from .errors import UserInputError

__all__ = ["safe_name", "within"]

_UNSAFE = re.compile(r"[^\w.\-]", flags=re.UNICODE)
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


def safe_name(name: str, max_length: int = 100) -> str:
    """A file-name-safe form of ``name`` (see the module docstring)."""
    text = unicodedata.normalize("NFC", str(name))
    cleaned = _UNSAFE.sub("_", text)
    cleaned = re.sub(r"_+", "_", cleaned).strip("._-") or "unnamed"
    changed = cleaned != text
    if cleaned.lower() in _WINDOWS_RESERVED:
        changed = True
    if len(cleaned) > max_length:
        cleaned = cleaned[:max_length]
        changed = True
    if changed:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}"
    return cleaned


def within(base: str | Path, *parts: str) -> Path:
    """``base / safe_name(part) / ...``, checked to stay inside ``base``."""
    root = Path(base).resolve()
    path = root.joinpath(*(safe_name(p) for p in parts)).resolve()
    if root != path and root not in path.parents:
        raise UserInputError(f"{path}: refusing to write outside {root}")
    return path
