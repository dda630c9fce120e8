"""The layering: services depend on shared/, the luna tool may import services, shared/ imports neither."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _imports(path: Path) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module)
    return mods


def test_shared_imports_no_service_and_not_the_luna_tool() -> None:
    bad = {f"{p.relative_to(ROOT)}: {m}" for p in (ROOT / "shared").rglob("*.py") for m in _imports(p)
           if m.split(".")[0] in ("services", "luna")}
    assert not bad, sorted(bad)


def test_no_service_imports_the_luna_tool() -> None:
    bad = {f"{p.relative_to(ROOT)}: {m}" for p in (ROOT / "services").rglob("*.py") for m in _imports(p)
           if m.split(".")[0] == "luna"}
    assert not bad, sorted(bad)


def test_the_service_list_is_declared_once() -> None:
    from services.ui import busclient
    from shared import endpoints

    assert busclient.SERVICES is endpoints.SUPERVISED
