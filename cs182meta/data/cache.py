"""An on-disk cache for decoded or generated datasets.

Entries are ``.npz`` files named by a hash of everything that determines their content
(dataset kind, generator version, parameters). The parameters are also stored inside the
file and compared on load, so a stale or foreign file is rebuilt, never trusted.
The folder is :func:`cs182meta.settings.cache_folder` (``$CS182META_CACHE``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cs182meta import settings

_META_KEY = "__cache_key__"


def _key_text(kind: str, params: dict) -> str:
    return json.dumps({"kind": kind, **params}, sort_keys=True, default=str)


def cache_path(kind: str, params: dict) -> Path:
    """Where the entry for ``kind`` built with ``params`` lives (it may not exist yet)."""
    digest = hashlib.sha256(_key_text(kind, params).encode()).hexdigest()[:16]
    return settings.cache_folder() / f"{kind}-{digest}.npz"


def _read(path: Path, key: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _META_KEY not in npz.files or str(npz[_META_KEY]) != key:
                return None
            return {name: npz[name] for name in npz.files if name != _META_KEY}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # unreadable (truncated, corrupt): rebuild it


def _write(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a crash never leaves a half-written entry.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_META_KEY: np.array(key)})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_build(
    kind: str, params: dict, build: Callable[[], dict[str, np.ndarray]], use_cache: bool = True
) -> dict[str, np.ndarray]:
    """Return the arrays cached for ``(kind, params)``, building and saving them if absent.

    Args:
        kind: a short name, e.g. ``"glyphs"`` or ``"omniglot"``; becomes the file prefix.
        params: every value the content depends on, including a generator version.
            Must be JSON-serialisable.
        build: called with no arguments when the entry is missing, stale or unreadable;
            returns named arrays (no object arrays).
        use_cache: ``False`` skips reading and writing the cache.
    """
    if not use_cache:
        return build()
    key = _key_text(kind, params)
    path = cache_path(kind, params)
    if path.exists():
        arrays = _read(path, key)
        if arrays is not None:
            return arrays
    arrays = build()
    try:
        _write(path, key, arrays)
    except OSError as err:  # a read-only cache folder must not stop the user
        import warnings

        warnings.warn(f"could not write the dataset cache {path}: {err}", stacklevel=2)
    return arrays
