"""Fitted models kept on disk between processes, so a worker starts in a second instead of refitting.

An entry is named by a hash of everything the fit depends on (the training data, the cue file, the
code that fits, the library versions), so a changed input simply misses and is fitted again. Entries
are pickles, which run code when loaded: the folder is used only when it belongs to this user and no
one else may write to it, and entries are written privately and atomically (workers starting together
each write a whole file, one of them wins).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("arinbox.model_cache")
FORMAT = b"arinbox-model-cache-1"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "arinbox"


def fingerprint(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256(FORMAT)
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def _private_dir(folder: Path, *, create: bool) -> bool:
    """True when ``folder`` exists (or was made), is ours and is writable by no one else."""
    try:
        if create:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("model cache %s is not private to this user; not used", folder)
        return False
    return True


def load(folder: Path, key: str) -> Any | None:
    """The entry, or None when there is none or it cannot be read."""
    path = folder / f"{key}.pickle"
    if not path.exists() or not _private_dir(folder, create=False):
        return None
    try:
        if path.stat().st_uid != os.getuid():
            return None
        with path.open("rb") as f:
            return pickle.load(f)
    except Exception as e:  # a truncated or foreign file is a miss, never a failure
        log.warning("model cache entry %s unreadable (%s); fitting again", path.name, type(e).__name__)
        return None


def store(folder: Path, key: str, value: Any, keep: int = 4) -> None:
    """Write the entry and drop all but the ``keep`` newest; a cache that cannot be written only costs
    the next start a fit."""
    if not _private_dir(folder, create=True):
        return
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{key}.pickle")
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
    except OSError as e:
        log.warning("model cache not written: %s", e)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
