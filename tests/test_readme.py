"""Every Python block of README.md runs as pasted, on real Fashion-MNIST, with less training.

The one rewrite, and nothing else: `epochs=N` becomes `epochs=1`, and a line assigning a dataset from
`data.load(...)` or `data.load_unpaired(...)` reads only the split's first 256 examples (`take=256`, before the
shuffle buffer fills with the whole split) and keeps two batches (`.take(2)`), so a block trains for seconds.
Each block runs on its own (a reader pastes one), in a fresh namespace, in a temporary working directory.
"""

import pathlib
import re

import pytest

_README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_EPOCHS = re.compile(r"\bepochs=\d+")
_DATASET_LINE = re.compile(r"^(\w+ = data\.load(?:_unpaired)?\([^#\n]*)\)(\s*#.*)?$", re.MULTILINE)


def _blocks():
    text = _README.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def shrink(code):
    """The README test's only rewrite: one epoch; 256 examples and two batches per dataset."""
    code = _EPOCHS.sub("epochs=1", code)
    return _DATASET_LINE.sub(lambda m: m.group(1) + ", take=256).take(2)" + (m.group(2) or ""), code)


def test_the_rewrite_only_shrinks_epochs_and_datasets():
    code = 'train = data.load("x", "train", p, batch_size=8)   # comment (with parentheses)\nmodel.fit(train, epochs=5)\n'
    assert shrink(code) == (
        'train = data.load("x", "train", p, batch_size=8, take=256).take(2)   # comment (with parentheses)\n'
        "model.fit(train, epochs=1)\n"
    )
    assert len(_blocks()) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("line, code", [pytest.param(line, code, id=f"line{line}") for line, code in _blocks()])
def test_readme_python_block_runs(line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(shrink(code), f"README.md:{line}", "exec"), {"__name__": f"readme_block_{line}"})
