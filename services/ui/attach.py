"""Image attachment checks: the path must exist and be a real image (by its first bytes)."""

from __future__ import annotations

from pathlib import Path

from services.ui.i18n import t

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
          (b"BM", "bmp"))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


def image_kind(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return ""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return ""


def clean_path(text: str) -> str:
    """A pasted path may come quoted or as a file:// URI."""
    s = text.strip().strip("'\"")
    if s.startswith("file://"):
        from urllib.parse import unquote

        s = unquote(s[7:])
    return s.replace("\\ ", " ")


def check_image(text: str) -> tuple[str, str]:
    """Return (absolute path, '') for a good image, or ('', error message)."""
    raw = clean_path(text)
    if not raw:
        return "", t("img_usage")
    p = Path(raw).expanduser()
    if not p.is_file():
        return "", t("img_missing", path=raw)
    if not image_kind(p):
        return "", t("img_not_image", path=raw)
    return str(p.resolve()), ""


def looks_like_image_path(text: str) -> bool:
    s = clean_path(text)
    return "\n" not in s and s.lower().endswith(IMAGE_SUFFIXES) and ("/" in s or s.startswith("~"))
