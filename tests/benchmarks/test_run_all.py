"""The one-command harness: it plans the README's benchmark commands in order, filters and resumes correctly,
and its real runner regenerates RESULTS.md (on copied results, in seconds; the benchmarks themselves take hours)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from benchmarks import harness

_ROOT = harness.REPO_ROOT


def _commands(config):
    return [step.command() for step in harness.plan(config)]


def _readme_commands():
    """The benchmark commands of the README's Benchmarks section, with `.venv/bin/python` spelled `python`."""
    with open(os.path.join(_ROOT, "README.md")) as f:
        section = f.read().split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(".venv/bin/python -m benchmarks.") and "benchmarks.run_all" not in line:
            commands += [part.strip().replace(".venv/bin/python", "python", 1) for part in line.split("&&")]
    return commands


def test_the_plan_is_the_readme_list_in_order():
    commands = _commands(harness.HarnessConfig())
    assert commands == _readme_commands()
    assert commands[-1] == "python -m benchmarks.make_results"


def test_models_narrow_training_steps_and_keep_shared_result_files_whole():
    assert _commands(harness.HarnessConfig(models=("vae",))) == [
        "python -m benchmarks.train_benchmark --models=vae",
        "python -m benchmarks.train_benchmark --models=vae --num_levels=256 --sample_repeats=1",
        "python -m benchmarks.loop_benchmark --models=gan,vae,dcgan,pixel_cnn",
        "python -m benchmarks.serving_benchmark",
        "python -m benchmarks.make_results",
    ]
    # The reference trains for pixel_cnn's wall time, so it follows pixel_cnn; alone it needs no retraining.
    assert [c for c in _commands(harness.HarnessConfig(models=("pixel_cnn",))) if "tfp_pixel_cnn" in c] == [
        "python -m benchmarks.tfp_pixel_cnn --num_levels=2",
        "python -m benchmarks.tfp_pixel_cnn --num_levels=256",
    ]
    assert _commands(harness.HarnessConfig(models=("tfp_pixel_cnn",)))[:-1] == [
        "python -m benchmarks.tfp_pixel_cnn --num_levels=2",
        "python -m benchmarks.tfp_pixel_cnn --num_levels=256",
    ]


@pytest.mark.parametrize("models", [("cvae",), ("vae", "nope"), ()])
def test_models_that_no_step_measures_are_refused(models):
    with pytest.raises(ValueError, match="models"):
        harness.HarnessConfig(models=models)


def test_quick_shortens_every_step_and_never_writes_the_real_results():
    steps = harness.plan(harness.HarnessConfig(quick=True))
    assert [s.module for s in steps] == [s.module for s in harness.plan(harness.HarnessConfig())]
    for step in steps:
        assert all(path.startswith(harness.QUICK_OUTPUT_DIR) for path in step.outputs), step
        if step.module == "benchmarks.train_benchmark":
            assert "--steps_per_epoch=2" in step.args and "--eval_samples=0" in step.args
        if step.module == "benchmarks.sampling_benchmark":  # It samples from the quick run's trained models.
            assert f"--root={harness.QUICK_OUTPUT_DIR}/runs" in step.args
    assert not any("benchmarks/results" in arg or "benchmarks/figures" in arg for s in steps for arg in s.args)


def _defined_flags(module):
    with open(os.path.join(_ROOT, *module.split(".")) + ".py") as f:
        return set(re.findall(r"flags\.DEFINE_\w+\(\s*\"(\w+)\"", f.read()))


@pytest.mark.parametrize("config", [{}, {"quick": True}, {"output_dir": "elsewhere"}], ids=str)
def test_every_flag_the_plan_passes_is_defined_by_its_script(config):
    # Read from the sources, not by importing the scripts: the check stays fast and catches a renamed flag.
    for step in harness.plan(harness.HarnessConfig(**config)):
        passed = {arg[2:].split("=", 1)[0] for arg in step.args}
        assert passed <= _defined_flags(step.module), step.command()


def test_dry_run_starts_no_process(tmp_path):
    config = harness.HarnessConfig(dry_run=True, python=str(tmp_path / "no-such-python"))
    report = harness.run(config)
    assert [s["status"] for s in report["steps"]] == ["planned"] * len(harness.plan(config))


def test_skip_existing_resumes_and_always_regenerates_results_md(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for name in ("gan.json", "loop.json"):
        shutil.copy(os.path.join(_ROOT, "benchmarks", "results", name), results / name)
    config = harness.HarnessConfig(models=("vae", "gan"), skip_existing=True, output_dir=str(tmp_path), dry_run=True)
    steps = harness.plan(config)
    assert steps[0].args[0] == "--models=vae" and not steps[0].skipped  # gan.json exists, vae.json does not.
    assert [s.skipped for s in steps if s.module == "benchmarks.loop_benchmark"] == ["results exist"]

    # A real run of what is left when every result exists: only make_results, into tmp_path.
    report = harness.run(harness.HarnessConfig(models=("gan",), skip_existing=True, output_dir=str(tmp_path)))
    assert [s["status"] for s in report["steps"]] == ["skipped: results exist"] * 2 + ["ran"]
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| gan |" in text and "## Training-loop overhead and input pipeline" in text
    assert report["results_md"] == str(tmp_path / "RESULTS.md")


def test_cli_prints_the_plan_and_refuses_bad_models():
    run = [sys.executable, "-m", "benchmarks.run_all", "--dry_run"]
    done = subprocess.run(run + ["--models=gan"], cwd=_ROOT, capture_output=True, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "[1/3] planned: python -m benchmarks.train_benchmark --models=gan"
    assert json.loads(lines[-1])["dry_run"] is True
    bad = subprocess.run(run + ["--models=cvae"], cwd=_ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "cvae" in bad.stderr
