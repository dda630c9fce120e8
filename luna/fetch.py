"""Fetch one file from a Hugging Face-style model hub: resumable and verified.

Why our own client and not ``hf_hub_download``: huggingface_hub (2.x) deletes a
partial download when the process stops, so a 480 MB Whisper cut at 90 % by a
dropped Wi-Fi or a Ctrl+C starts again from zero, and it checks only the size,
never the sha256 the hub publishes. This module speaks the same protocol
(``HF_ENDPOINT`` honoured, ``HEAD /{repo}/resolve/{rev}/{file}`` whose
``X-Linked-Etag`` is the sha256 of an LFS file and whose ``ETag`` is the git blob
sha1 of a small one, a redirect to a CDN on another origin, ``Range`` requests),
keeps ``<file>.<etag>.part`` between runs and resumes it, checks the hash before the
file goes where a service would load it, and writes the hub cache layout
(``models--owner--name/{blobs,snapshots,refs}``) so faster-whisper and
huggingface_hub find what it fetched with ``local_files_only=True``. The progress
line it draws while bytes arrive is :mod:`luna.progress`.

Failures are a :class:`FetchError` whose ``kind`` the caller turns into one line
in the user's language: ``unreachable``, ``not-found``, ``auth``, ``checksum``,
``disk-full``, ``interrupted``, ``offline`` (``HF_HUB_OFFLINE=1``), ``http``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlparse

import httpx

from luna.progress import Bar, ProgressFactory, default_bar, human
from shared.paths import repo_folder  # where the hub cache is: shared with the services

CHUNK = 1 << 20
#: times a cut connection is resumed within one run before giving up (the .part stays for the next run)
RETRIES = 5
DEFAULT_ENDPOINT = "https://huggingface.co"


class FetchError(Exception):
    """A download that did not produce a verified file; ``kind`` says why, ``info`` has the figures."""

    def __init__(self, kind: str, detail: str = "", **info: Any) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.info = info


@dataclass
class Remote:
    """What the hub said about one file (its HEAD answer)."""

    repo: str
    filename: str
    revision: str
    commit: str
    etag: str  # the hub cache's blob name: sha256 for LFS files, git blob sha1 otherwise
    url: str  # where the bytes are (the CDN location for LFS files)
    size: int | None
    sha256: str | None = None
    sha1: str | None = None  # git blob sha1: sha1(b"blob <size>\0" + content)


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _origin(url: str) -> tuple[str, str, int]:
    u = urlparse(url)
    return u.scheme, (u.hostname or "").lower(), u.port or {"http": 80, "https": 443}.get(u.scheme, 0)


def _hex(value: str | None, n: int) -> str | None:
    v = (value or "").removeprefix("W/").strip('"').lower()
    return v if len(v) == n and all(c in "0123456789abcdef" for c in v) else None


class Hub:
    """A model hub at ``HF_ENDPOINT``. One per run: after the hub proves unreachable, later calls fail at once."""

    def __init__(self, url: str | None = None, timeout: float = 10.0) -> None:
        self.url = (url or endpoint()).rstrip("/")
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, read=60.0), follow_redirects=False)
        self.token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or ""
        self.down: FetchError | None = None
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):  # as huggingface_hub reads it
            self.down = FetchError("offline", "HF_HUB_OFFLINE is set")

    def close(self) -> None:
        self.client.close()

    def host(self) -> str:
        return urlparse(self.url).netloc

    def _headers(self, url: str) -> dict[str, str]:
        h = {"user-agent": "luna-models/1", "accept-encoding": "identity"}
        if self.token and _origin(url) == _origin(self.url):  # never send the token to a CDN
            h["authorization"] = f"Bearer {self.token}"
        return h

    def _request(self, method: str, url: str) -> httpx.Response:
        if self.down is not None:
            raise self.down
        try:
            r = self.client.request(method, url, headers=self._headers(url))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
            self.down = FetchError("unreachable", f"{self.host()}: {type(exc).__name__}", host=self.host())
            raise self.down from None
        except httpx.HTTPError as exc:
            raise FetchError("unreachable", f"{self.host()}: {type(exc).__name__}: {exc}", host=self.host()) from None
        return r

    def _check(self, r: httpx.Response, what: str) -> None:
        if r.status_code < 400:
            return
        code = r.headers.get("x-error-code", "")
        if r.status_code == 404 or code in ("RepoNotFound", "EntryNotFound", "RevisionNotFound"):
            raise FetchError("not-found", f"{what}: {code or r.status_code}", what=what)
        if r.status_code in (401, 403) or code == "GatedRepo":
            raise FetchError("auth", f"{what}: {code or r.status_code}", what=what)
        if r.status_code >= 500:
            self.down = FetchError("unreachable", f"{self.host()}: HTTP {r.status_code}", host=self.host())
            raise self.down
        raise FetchError("http", f"{what}: HTTP {r.status_code}", what=what)

    # -- the API calls snapshot_download makes too --------------------------------------
    def commit(self, repo: str, revision: str = "main") -> str:
        r = self._request("GET", f"{self.url}/api/models/{repo}/revision/{quote(revision, safe='')}")
        self._check(r, f"{repo}@{revision}")
        return str(r.json()["sha"])

    def files(self, repo: str, commit: str) -> list[str]:
        """Every file path in the repo at ``commit`` (the tree API, following its ``Link: rel=next`` pages)."""
        url: str | None = f"{self.url}/api/models/{repo}/tree/{commit}?recursive=true"
        out: list[str] = []
        while url:
            r = self._request("GET", url)
            self._check(r, repo)
            out += [e["path"] for e in r.json() if e.get("type") == "file"]
            url = r.links.get("next", {}).get("url")
        return out

    def head(self, repo: str, filename: str, revision: str = "main") -> Remote:
        """The file's metadata: follows redirects on the hub's origin, stops at the CDN's (as huggingface_hub does)."""
        url = f"{self.url}/{repo}/resolve/{quote(revision, safe='')}/{quote(filename)}"
        for _ in range(10):
            r = self._request("HEAD", url)
            self._check(r, f"{repo}/{filename}")
            loc = r.headers.get("location")
            if r.is_redirect and loc and _origin(urljoin(url, loc)) == _origin(url):
                url = urljoin(url, loc)
                continue
            break
        commit = r.headers.get("x-repo-commit")
        linked = r.headers.get("x-linked-etag")
        etag = (linked or r.headers.get("etag") or "").removeprefix("W/").strip('"')
        if not commit or not etag:
            raise FetchError("http", f"{url}: not a model hub answer (no X-Repo-Commit/ETag)", what=filename)
        size = r.headers.get("x-linked-size") or (None if r.is_redirect else r.headers.get("content-length"))
        where = urljoin(url, loc) if r.is_redirect and loc else url
        return Remote(repo, filename, revision, commit, etag, where, int(size) if size else None,
                      sha256=_hex(linked, 64) or (None if linked else _hex(etag, 64)),
                      sha1=None if linked else _hex(etag, 40))

    # -- bytes ------------------------------------------------------------------------------
    def download(self, remote: Remote, dest: Path, progress: ProgressFactory | None = None,
                 label: str = "") -> Path:
        """Fetch ``remote`` to ``dest`` via ``dest.<etag>.part`` (resumed if there), verified, then moved in place.

        A hash mismatch leaves the bytes in ``dest.rejected`` (never where a service loads
        from) and raises ``checksum``; a cut connection is resumed with ``Range`` up to
        :data:`RETRIES` times, then ``interrupted`` (the ``.part`` stays for the next run).
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        # The version is in the name: a part of an older revision is never resumed into this one.
        part = dest.with_name(f"{dest.name}.{remote.etag[:16]}.part")
        for stale in dest.parent.glob(f"{dest.name}.*.part"):
            if stale != part:
                stale.unlink(missing_ok=True)
        have = part.stat().st_size if part.exists() else 0
        if remote.size is not None and have > remote.size:
            part.unlink()
            have = 0
        if remote.size is not None:
            free = shutil.disk_usage(dest.parent).free
            need = remote.size - have
            if free < need:
                raise FetchError("disk-full", f"{dest.parent}: {human(need)} needed, {human(free)} free",
                                 need=need, free=free, where=str(dest.parent))
        bar = (progress or default_bar)(label or remote.filename, remote.size, have)
        tries = 0
        try:
            while True:
                try:
                    self._get(remote, part, bar)
                    break
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout, httpx.WriteError,
                        httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    tries += 1
                    got = part.stat().st_size if part.exists() else 0
                    if tries > RETRIES:
                        raise FetchError("interrupted", f"{type(exc).__name__} at {human(got)}",
                                         got=got, size=remote.size) from None
                    time.sleep(min(2.0, 0.2 * tries))
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                part.unlink(missing_ok=True)  # a partial file on a full disk only keeps it full
                free = shutil.disk_usage(dest.parent).free
                raise FetchError("disk-full", f"{dest.parent}: {exc.strerror}", need=remote.size or 0, free=free,
                                 where=str(dest.parent)) from None
            raise
        finally:
            bar.close()
        self._verify(remote, part, dest)
        os.replace(part, dest)
        return dest

    def _get(self, remote: Remote, part: Path, bar: Bar) -> None:
        have = part.stat().st_size if part.exists() else 0
        if remote.size is not None and have == remote.size:
            return
        headers = self._headers(remote.url)
        if have:
            headers["range"] = f"bytes={have}-"
        with self.client.stream("GET", remote.url, headers=headers) as r:
            if r.status_code == 416 and have:  # our part is as long as (or longer than) the file: check it
                return
            self._check(r, remote.filename)
            mode = "ab" if have and r.status_code == 206 else "wb"
            if mode == "wb" and have:
                bar.update(-have)  # the server ignored Range: start over
            with part.open(mode) as f:
                for chunk in r.iter_bytes():  # as it arrives: a cut keeps every byte that came
                    f.write(chunk)
                    bar.update(len(chunk))

    @staticmethod
    def _verify(remote: Remote, part: Path, dest: Path) -> None:
        size = part.stat().st_size
        h256, h1 = hashlib.sha256(), hashlib.sha1()
        h1.update(b"blob %d\0" % size)
        with part.open("rb") as f:
            while chunk := f.read(CHUNK):
                if remote.sha256:
                    h256.update(chunk)
                if remote.sha1:
                    h1.update(chunk)
        bad = ""
        if remote.size is not None and size != remote.size:
            bad = f"size {size} != {remote.size}"
        elif remote.sha256 and h256.hexdigest() != remote.sha256:
            bad = f"sha256 {h256.hexdigest()[:12]}… != {remote.sha256[:12]}…"
        elif remote.sha1 and h1.hexdigest() != remote.sha1:
            bad = f"git sha1 {h1.hexdigest()[:12]}… != {remote.sha1[:12]}…"
        if bad:
            rejected = dest.with_name(dest.name + ".rejected")
            os.replace(part, rejected)
            raise FetchError("checksum", f"{remote.filename}: {bad}", rejected=str(rejected))

    # -- the hub cache ------------------------------------------------------------------------
    def to_cache(self, remote: Remote, progress: ProgressFactory | None = None, label: str = "") -> Path:
        """Download into huggingface_hub's cache layout; returns the snapshot path a loader opens."""
        folder = repo_folder(remote.repo)
        blob = folder / "blobs" / remote.etag
        if not blob.is_file():
            self.download(remote, blob, progress, label)
        link = folder / "snapshots" / remote.commit / remote.filename
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_file():
            link.unlink(missing_ok=True)
            try:
                link.symlink_to(os.path.relpath(blob, link.parent))
            except OSError:  # no symlinks here: a copy, as huggingface_hub does
                shutil.copyfile(blob, link)
        if remote.revision != remote.commit:
            ref = folder / "refs" / remote.revision
            ref.parent.mkdir(parents=True, exist_ok=True)
            if not ref.is_file() or ref.read_text() != remote.commit:
                tmp = ref.with_name(ref.name + ".tmp")
                tmp.write_text(remote.commit)
                os.replace(tmp, ref)
        return link

