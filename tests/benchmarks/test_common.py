"""Shared benchmark helpers: adding rows measured later to a result file; the command a result records."""

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
