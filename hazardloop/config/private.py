"""Private files and directories: what HazardLoop writes (the SQLite database, evidence, outbox
files, keys) is readable by the account that runs it and nobody else.

Directories HazardLoop creates are 0700, files 0600.  A directory that already exists and
is not one of ours (e.g. /tmp holding a database someone pointed us at) keeps its mode;
the data directory and its own subdirectories are tightened.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """mkdir -p with 0700 for every directory created; tighten: chmod an existing one too."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it first
            pass
        _chmod(d, DIR_MODE)
    if tighten and not missing:
        _chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create the file 0600 if missing; make an existing one 0600."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    _chmod(path, FILE_MODE)
    return path


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.stat().st_uid == os.getuid():
            os.chmod(path, mode)
    except (PermissionError, FileNotFoundError):
        pass  # not ours to change (a mounted volume): its owner decides
