"""The code uses libraries through their public API only: a private module can change in any
release without notice (issue #14, item 29)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = ("bot", "handlers", "models", "sandbox")


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_no_module_imports_a_private_module_of_python_telegram_bot() -> None:
    private = [
        f"{path.relative_to(ROOT)}: {name}"
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for name in _imported_modules(path)
        if name.startswith("telegram.") and any(p.startswith("_") for p in name.split(".")[1:])
    ]
    assert private == []
