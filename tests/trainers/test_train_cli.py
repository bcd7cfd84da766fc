"""The training CLI end to end on real Fashion-MNIST: files, JSON line, SIGKILL mid-epoch and resume."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from trainers import callbacks

pytestmark = pytest.mark.slow

_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _command(workdir, epochs):
    return [
        sys.executable, "-m", "trainers.train", "--model=vae", f"--workdir={workdir}", f"--epochs={epochs}",
        "--steps_per_epoch=40", "--batch_size=32", "--train_take=4096", "--eval_take=256",
        "--num_grid_samples=16", "--verbose=2",
    ]


def _saved_epoch(workdir):
    return callbacks.backed_up_epoch(os.path.join(workdir, "backup"))


def test_sigkill_mid_epoch_then_rerun_resumes_with_nothing_lost(tmp_path):
    workdir = str(tmp_path / "run")
    process = subprocess.Popen(_command(workdir, 4), env=_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while _saved_epoch(workdir) < 1 and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # Into the next epoch.
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    saved = _saved_epoch(workdir)
    assert 1 <= saved < 4, "the kill must land after the first backup and before the end"

    done = subprocess.run(_command(workdir, 4), env=_ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    json_lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(json_lines) == 1
    metrics = json.loads(json_lines[0])
    assert metrics == json.load(open(os.path.join(workdir, "metrics.json")))
    assert metrics["resumed_from_epoch"] == saved and metrics["epochs"] == 4
    for key in ("loss", "elbo", "kl", "bits_per_dim"):
        assert key in metrics["test"]
    # Every epoch appears exactly once in the history: none repeated, none lost.
    with open(os.path.join(workdir, "history.csv")) as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2, 3]
    assert os.path.exists(os.path.join(workdir, "checkpoints", "epoch_0004.keras"))
    grid = Image.open(metrics["samples_png"])
    grid.verify()
    assert metrics["samples_png"].endswith("latest.png") and "Results in" in done.stdout


def test_unknown_model_lists_the_valid_names(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "trainers.train", "--model=nope", f"--workdir={tmp_path}"],
        env=_ENV, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "dcgan" in done.stderr and "pixel_cnn" in done.stderr and "vae" in done.stderr


def test_bad_model_kwargs_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "trainers.train", "--model=vae", f"--workdir={tmp_path}", "--model_kwargs=[1]"],
        env=_ENV, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0 and "--model_kwargs must be a JSON object" in done.stderr
