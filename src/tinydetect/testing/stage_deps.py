"""What a stage script really depends on, read from its source with `ast`, to check `dvc.yaml` against.

- `library_modules(script)`: every `tinydetect` module the script imports, directly or through
  other `tinydetect` modules, at the top or inside a function, as repo-relative file paths;
- `params_sections(script)`: the sections it passes to `load_params("base", "train", ...)`.

    python -m tinydetect.testing.stage_deps stages/train.py    # prints both, for writing dvc.yaml
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "tinydetect"


def _imported_names(tree: ast.AST) -> set[str]:
    """Dotted names of `tinydetect` modules and of names imported from them (`a.b` for `from a import b`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _module_file(dotted: str, src_root: Path) -> Path | None:
    """The file of a module or package named `dotted`; None for a name that is not a module (a function)."""
    base = src_root.joinpath(*dotted.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _with_parent_packages(dotted: str) -> list[str]:
    """Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first."""
    parts = dotted.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def library_modules(script: str | Path, src_root: str | Path = "src") -> set[Path]:
    """Every library file `script` loads, transitively, relative to the repo root (the parent of `src_root`)."""
    src_root = Path(src_root)
    seen: set[Path] = set()
    pending = [Path(script)]
    while pending:
        tree = ast.parse(pending.pop().read_text(encoding="utf-8"))
        for dotted in _imported_names(tree):
            for name in _with_parent_packages(dotted):
                path = _module_file(name, src_root)
                if path is not None and path not in seen:
                    seen.add(path)
                    pending.append(path)
    return seen


def params_sections(script: str | Path) -> set[str]:
    """The string arguments of every `load_params(...)` call in `script`."""
    tree = ast.parse(Path(script).read_text(encoding="utf-8"))
    sections = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params":
            sections |= {arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return sections


def is_docstring_only(path: Path) -> bool:
    """True for a module whose body is at most a docstring: importing it runs nothing."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def main() -> None:
    for script in sys.argv[1:]:
        print(f"{script}: params {sorted(params_sections(script))}")
        for path in sorted(library_modules(script)):
            if not is_docstring_only(path):
                print(f"      - {path}")


if __name__ == "__main__":
    main()
