"""Names to file names: the one function through which any user-given name becomes a path part.

:func:`safe_name` keeps letters of any script (Japanese included), digits, ``-``, ``_`` and ``.``;
turns everything else (path separators, control characters, spaces, markup) into ``_``; never
returns ``.``/``..``, an empty string, a leading dot or a name longer than 100 characters; and
appends a short hash of the original when it had to change it, so two different names never
collide; keeps a name under 255 bytes (the usual file-system limit) in any script.

:func:`write_text_atomic` lives in :mod:`simlib.io.atomic`; it is imported here too, where callers
have always found it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from .errors import UserInputError
from .io.atomic import write_text_atomic

__all__ = ["safe_name", "within", "write_text_atomic"]

_UNSAFE = re.compile(r"[^\w.\-]", flags=re.UNICODE)
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


def safe_name(name: str, max_length: int = 100, max_bytes: int = 200) -> str:
    """A file-name-safe form of ``name`` (see the module docstring).

    At most ``max_length`` characters and ``max_bytes`` bytes of UTF-8 before the hash (file
    systems limit a name to 255 bytes, and a letter of some scripts takes 3 or 4). Any change
    to ``name`` itself (Unicode normalization included) appends the hash of the original, so
    two different names give two different results.
    """
    original = str(name)
    text = unicodedata.normalize("NFC", original)
    cleaned = _UNSAFE.sub("_", text)
    cleaned = re.sub(r"_+", "_", cleaned).strip("._-") or "unnamed"
    changed = cleaned != original
    if cleaned.lower() in _WINDOWS_RESERVED:
        changed = True
    if len(cleaned) > max_length:
        cleaned = cleaned[:max_length]
        changed = True
    while len(cleaned.encode("utf-8")) > max_bytes:
        cleaned = cleaned[:-1]
        changed = True
    if changed:
        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}"
    return cleaned


def within(base: str | Path, *parts: str) -> Path:
    """``base / safe_name(part) / ...``, checked to stay inside ``base``."""
    root = Path(base).resolve()
    path = root.joinpath(*(safe_name(p) for p in parts)).resolve()
    if root != path and root not in path.parents:
        raise UserInputError(f"{path}: refusing to write outside {root}")
    return path
