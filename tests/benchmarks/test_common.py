"""Shared benchmark helpers: rows measured later in a result file; the command a result records; Polyak averages."""

import json
import sys

from benchmarks import common


def test_rows_measured_later_replace_their_own_and_record_their_command(tmp_path):
    path = tmp_path / "loop.json"
    first = {"benchmark_command": "python -m b --models=a,b", "date": "2026-11-01", "cores": 2, "machine": "x",
             "tensorflow": "t", "keras": "k", "rows": [{"model": "a", "v": 1}, {"model": "b", "v": 2}]}
    path.write_text(json.dumps(first))
    later = {**first, "benchmark_command": "python -m b --models=b,c", "date": "2026-11-30"}
    later.pop("rows")
    result = common.with_other_rows(str(path), [{"model": "b", "v": 3}, {"model": "c", "v": 4}], "model", later)
    assert result["benchmark_command"] == first["benchmark_command"] and result["date"] == "2026-11-01"
    assert [(row["model"], row["v"]) for row in result["rows"]] == [("a", 1), ("b", 3), ("c", 4)]
    assert "benchmark_command" not in result["rows"][0]
    assert {row["benchmark_command"] for row in result["rows"][1:]} == {later["benchmark_command"]}


def test_a_command_records_the_thread_settings_it_ran_with(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["quality.py", "--run=gan"])
    for name in common.SPEED_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    assert common.provenance("benchmarks.quality")["benchmark_command"] == "python -m benchmarks.quality --run=gan"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    command = common.provenance("benchmarks.quality")["benchmark_command"]
    assert command == "TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.quality --run=gan"


def test_rows_named_by_several_fields_replace_only_their_own(tmp_path):
    path = tmp_path / "serving.json"
    rows = [{"model": m, "verb": "sample", "batch": b, "ms": 1} for m in ("a", "b") for b in (1, 64)]
    path.write_text(json.dumps({"benchmark_command": "python -m s", "date": "2026-11-01", "rows": rows}))
    later = {"benchmark_command": "python -m s --models=a --batch_sizes=1", "date": "2026-12-01"}
    result = common.with_other_rows(str(path), [{"model": "a", "verb": "sample", "batch": 1, "ms": 2}],
                                    ("model", "verb", "batch"), later)
    assert [(row["model"], row["batch"], row["ms"]) for row in result["rows"]] == [
        ("a", 64, 1), ("b", 1, 1), ("b", 64, 1), ("a", 1, 2)]
    from benchmarks import make_results
    assert make_results._added_rows(result, ("model", "verb", "batch")) == [
        "Rows a sample 1 added with `python -m s --models=a --batch_sizes=1` (2026-12-01)."]


def test_polyak_averages_follow_the_variables_swap_in_and_out_and_survive_a_checkpoint(tmp_path):
    import keras
    import numpy as np
    import pytest
    import tensorflow as tf

    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    start = [v.numpy() for v in layer.trainable_variables]
    average = common.PolyakAverage(layer.trainable_variables, 0.9)
    expected = [w.copy() for w in start]
    for step in range(1, 4):
        for v in layer.trainable_variables:
            v.assign(v + 1.0)
        average.update()
        expected = [0.9 * e + 0.1 * (w + step) for e, w in zip(expected, start)]
    assert int(average.steps.numpy()) == 3
    for got, want in zip(average.averages, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    with average.swapped():
        np.testing.assert_allclose(layer.kernel.numpy(), expected[0], rtol=1e-6)
    np.testing.assert_allclose(layer.kernel.numpy(), start[0] + 3.0, rtol=1e-6)

    tf.train.Checkpoint(average=average.state).write(str(tmp_path / "ckpt"))
    other = common.PolyakAverage(layer.trainable_variables, 0.9)
    tf.train.Checkpoint(average=other.state).read(str(tmp_path / "ckpt")).assert_consumed()
    assert int(other.steps.numpy()) == 3
    np.testing.assert_allclose(other.averages[0].numpy(), expected[0], rtol=1e-6)
    other.reset()
    assert int(other.steps.numpy()) == 0
    np.testing.assert_allclose(other.averages[0].numpy(), layer.kernel.numpy())
    with pytest.raises(ValueError, match="momentum"):
        common.PolyakAverage(layer.trainable_variables, 1.0)
