"""No function in simlib is longer than 80 lines (the compiled coverage kernels excepted): long
functions are split into named steps, and this keeps them so.

A function's length is counted from its ``def`` line to its last line, docstring included
(decorators left out); nested functions count within the function that holds them and on their
own.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "simlib"
MAX_LINES = 80
#: Numba kernels: one loop each, kept whole so the compiler sees it (and the numpy backend).
EXCEPTED = {Path("model/coverage/kernels/compiled.py")}


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length in lines) of each function longer than
    ``max_lines`` in ``source``."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = (child.end_lineno or child.lineno) - child.lineno + 1
                    if length > max_lines:
                        found.append((name, child.lineno, length))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_counter_measures_def_to_last_line() -> None:
    lines = [f"x{i} = {i}" for i in range(80)]
    f_body = "".join(f"    {line}\n" for line in lines)  # 80 lines
    g_body = "".join(f"        {line}\n" for line in lines[:79])  # 79 lines
    source = f"@decorator\ndef f():\n{f_body}\n\nclass C:\n    def g(self):\n{g_body}"
    # f: its def line and 80 body lines (81, too long); C.g: its def and 79 lines (80, allowed)
    assert long_functions(source) == [("f", 2, 81)]
    assert long_functions(source, 79) == [("f", 2, 81), ("C.g", 86, 80)]


def test_no_function_over_80_lines() -> None:
    paths = sorted(ROOT.rglob("*.py"))
    assert len(paths) > 50, f"simlib's modules not found under {ROOT}"
    too_long = []
    for path in paths:
        rel = path.relative_to(ROOT)
        if rel in EXCEPTED:
            continue
        for name, line, length in long_functions(path.read_text(encoding="utf-8")):
            too_long.append(f"simlib/{rel.as_posix()}:{line} {name} ({length} lines)")
    assert not too_long, f"functions over {MAX_LINES} lines (split them into named steps): " + (
        "; ".join(too_long)
    )
