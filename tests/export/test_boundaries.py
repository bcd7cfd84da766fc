"""`export/` is the serving layer: it depends on `zoo/` only, and on the GAN, VAE and CycleGAN's public API."""

import ast
import os
import pathlib
import subprocess
import sys

_ROOT = pathlib.Path(__file__).resolve().parents[2]
_EXPORT_FILES = sorted((_ROOT / "export").glob("*.py"))


def _imported_modules(path):
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.append(node.module)
    return modules


def test_no_export_file_imports_a_trainers_module():
    assert _EXPORT_FILES, "no export/*.py found"
    offenders = {
        path.name: [m for m in _imported_modules(path) if m == "trainers" or m.startswith("trainers.")]
        for path in _EXPORT_FILES
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_importing_export_loads_no_trainers_module():
    # Also catches an import through zoo/: run in a fresh interpreter, whose sys.modules starts empty.
    code = (
        "import sys, export.export, export.saved_model, export.serving_c_api; "
        "print(sorted(m for m in sys.modules if m == 'trainers' or m.startswith('trainers.')))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_signatures_use_no_private_model_member():
    tree = ast.parse((_ROOT / "export" / "saved_model.py").read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in ("_gan_endpoints", "_vae_endpoints", "_cyclegan_endpoints", "_autoregressive_endpoints"):
        private = [
            node.attr
            for node in ast.walk(functions[name])
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "model"
            and node.attr.startswith("_")
        ]
        assert private == [], f"{name} reaches into model.{private}: make what it needs a public, documented method"
