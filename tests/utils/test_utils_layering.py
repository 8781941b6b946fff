"""Static rules of the package layout: tinify.utils does not import tinify.losses, and no module
imports another module's private (``_name``) names."""

from __future__ import annotations

import ast
from pathlib import Path

import tinify

PACKAGE = Path(tinify.__file__).parent


def _imports(path: Path) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` of every ``from tinify... import name`` / ``import tinify...``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinify"):
            out.extend((node.lineno, node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, "") for a in node.names if a.name.startswith("tinify"))
    return out


def test_utils_does_not_import_losses() -> None:
    bad = [
        f"{path.name}:{line} {module}"
        for path in sorted((PACKAGE / "utils").rglob("*.py"))
        for line, module, _ in _imports(path)
        if module == "tinify.losses" or module.startswith("tinify.losses.")
    ]
    assert bad == []


def test_no_private_imports_across_modules() -> None:
    # tinify._core is the compiled extension: private by name only, imported on purpose.
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, module, name in _imports(path):
            parts = [*module.split("."), *([name] if name else [])]
            private = [p for p in parts if p.startswith("_") and not p.startswith("__")]
            if any(p != "_core" for p in private):
                bad.append(f"{path.relative_to(PACKAGE)}:{line} {module} {name}")
    assert bad == []
