"""No function of the library packages is longer than 80 lines, its decorators and docstring included."""

import ast
import pathlib

_ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_LINES = 80


def _long_functions(package):
    found = []
    for path in sorted((_ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                lines = node.end_lineno - first + 1
                if lines > MAX_LINES:
                    found.append(f"{path.relative_to(_ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_in_zoo_trainers_or_export_is_over_80_lines():
    packages = ("zoo", "trainers", "export")
    assert all((_ROOT / p).is_dir() for p in packages)
    long_functions = [f for p in packages for f in _long_functions(p)]
    assert long_functions == [], "split these along their jobs:\n" + "\n".join(long_functions)
