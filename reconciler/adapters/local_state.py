"""The reconciler's state on this machine: where it is kept, and which code it belongs to.

The caches (blueprints loaded before, records read before, the trail's index) live in the git
directory, under `reconciler/`: nothing a commit brings can put a file there, so no branch or
pull request can plant results for its own files, and a fresh clone simply starts without
them. Each is tied to the code that wrote it by `fingerprint`, and never read by another.
"""

from __future__ import annotations

import enum
import hashlib
import io
import os
import pickle
import sys
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["dumps", "find_git_dir", "fingerprint"]


def find_git_dir(start: Path) -> Path | None:
    """The git directory of the repository that holds `start` (a worktree's own, when `.git`
    is a file naming it), or None outside git."""
    try:
        here = start.resolve()
    except OSError:
        return None
    for folder in (here, *here.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            try:
                text = dot_git.read_text("utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return None
            if text.startswith("gitdir:"):
                target = Path(text.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else (folder / target).resolve()
            return None
    return None


@cache
def fingerprint() -> str:
    """What results kept between runs depend on besides their inputs: the code of the pure
    core (the loader, the model, the record reader), the schemas, the ports and Python. Any
    other version of any of them throws every kept result away."""
    import reconciler

    package = Path(reconciler.__file__).parent
    digest = hashlib.sha256(f"{sys.version}\0".encode())
    # os.walk rather than pathlib's recursive glob, a third of this function's time
    core = [
        Path(folder, name)
        for folder, _, names in os.walk(package / "core")
        for name in names
        if name.endswith(".py")
    ]
    files = sorted([*core, *package.glob("data/*.json"), package / "ports.py"])
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def dumps(value: object) -> bytes:
    """`value` pickled as the caches keep it: enum members by class and value, looked up in
    the class's own table when read back. Enum's own way back (a call of the class) was a
    third of the time of reading a kept record, which holds a few of them."""
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, enum.Enum):
            return _member, (type(obj), obj._value_)
        return NotImplemented


def _member(kind: type[enum.Enum], value: object) -> enum.Enum:
    return kind._value2member_map_[value]
