"""Atomic writes: the destination holds the old content or the new, never a part; nothing is left behind."""

import json
import os

import pytest

from zoo.utils import atomic


def test_text_json_bytes_and_copy_write_their_content(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "hello")
    atomic.write_json(str(tmp_path / "b.json"), {"b": 1, "a": [2]}, trailing_newline=True, indent=2, sort_keys=True)
    atomic.write_bytes(tmp_path / "c.bin", b"\x00\x01")
    atomic.copy(tmp_path / "c.bin", tmp_path / "d.bin")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert (tmp_path / "b.json").read_text() == json.dumps({"a": [2], "b": 1}, indent=2) + "\n"
    assert (tmp_path / "d.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.json", "c.bin", "d.bin"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "metrics.json"
    atomic.write_json(path, {"old": True})
    with pytest.raises(TypeError):
        atomic.write_json(path, {"new": object()})  # Not serializable: fails before anything is renamed.
    with pytest.raises(RuntimeError), atomic.destination(str(path)) as tmp:
        with open(tmp, "w") as f:
            f.write('{"half": ')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_the_temporary_name_keeps_the_extension_and_is_hidden_beside_the_destination(tmp_path):
    path = str(tmp_path / "latest.weights.h5")
    with atomic.destination(path) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        assert os.path.basename(tmp).startswith(".") and tmp.endswith(".weights.h5")  # Keras picks the format by it.
        assert str(os.getpid()) in tmp
        open(tmp, "wb").close()
    assert os.listdir(tmp_path) == ["latest.weights.h5"]
