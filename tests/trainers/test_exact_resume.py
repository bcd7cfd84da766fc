"""Exact resume: a run SIGKILLed mid-epoch and rerun ends bit-identical to the run never interrupted.

Each run is a separate process, as after a real kill. The killed run kills itself (SIGKILL) at the end of a
chosen training batch, in the middle of an epoch after the first backup; the rerun restores the backup
(weights, optimizers, random streams) and replays the input pipeline to the restored epoch. Stochastic
binarization (VAE, PixelCNN), GAN latents and the WGAN-GP penalty's mixing noise all draw from seeded streams
that must continue exactly where the uninterrupted run had them; PixelCNN++'s data-dependent initialisation
reads a batch in both runs, so the pipeline's shuffles stay aligned.
"""

import json
import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

pytestmark = pytest.mark.slow

_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
_STEPS_PER_EPOCH = 4  # 64 training images in batches of 16.
_KILL_AT_BATCH = 6  # Mid second epoch: the backup holds epoch 1.

_CONFIGS = {
    "vae": dict(model_kwargs={"latent_dim": 4, "filters": (4, 8)}, binarize="stochastic"),
    "dcgan": dict(model_kwargs={"latent_dim": 4, "filters": 8}),
    "wgan_gp": dict(model_kwargs={"latent_dim": 4, "filters": 8, "d_steps": 2}),
    "pixel_cnn": dict(model_kwargs={"filters": 4, "num_blocks": 1, "output_filters": 8}, binarize="stochastic"),
    # Polyak averages in the optimizer state, and validations that put them in the model and take them out again.
    "pixel_cnn_ema": dict(model="pixel_cnn", model_kwargs={"filters": 4, "num_blocks": 1, "output_filters": 8},
                          ema_momentum=0.9, validate_every_epoch=True),
    # Weight normalisation initialised from a training batch, in the killed run and in the rerun alike.
    "pixel_cnn_pp": dict(model_kwargs={"num_resnet": 1, "num_hierarchies": 1, "num_filters": 4, "num_logistic_mix": 2,
                                       "weight_norm": True}),
}

# Runs one training; with a kill batch, SIGKILLs itself at the end of that (global) training batch.
_DRIVER = """
import json, os, signal, sys
from trainers import callbacks, train_lib

name, workdir, kill_at, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
config.setdefault("model", name)
if kill_at:
    seen = [0]
    after_batch = callbacks.StopOnNaN.on_train_batch_end

    def kill_at_batch(self, batch, logs=None):
        after_batch(self, batch, logs)
        seen[0] += 1
        if seen[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    callbacks.StopOnNaN.on_train_batch_end = kill_at_batch
train_lib.train_and_evaluate(train_lib.TrainConfig(
    workdir=workdir, epochs=3, batch_size=16, train_take=64, eval_take=16, num_grid_samples=0,
    verbose=0, seed=7, **config,
))
"""


def _train(name, workdir, kill_at=0):
    command = [sys.executable, "-c", _DRIVER, name, workdir, str(kill_at), json.dumps(_CONFIGS[name])]
    return subprocess.run(command, env=_ENV, capture_output=True, text=True, timeout=600)


def _backup(workdir):
    """Every array of the final backup (weights and optimizer state) and the random state it recorded."""
    arrays = {}
    with h5py.File(os.path.join(workdir, "backup", "latest.weights.h5")) as f:
        f.visititems(lambda path, item: arrays.__setitem__(path, item[()]) if isinstance(item, h5py.Dataset) else None)
    with open(os.path.join(workdir, "backup", "training_metadata.json")) as f:
        metadata = json.load(f)
    return arrays, metadata


@pytest.mark.parametrize("name", sorted(_CONFIGS))
def test_kill_and_rerun_ends_bit_identical_to_the_uninterrupted_run(tmp_path, name):
    reference = _train(name, str(tmp_path / "uninterrupted"))
    assert reference.returncode == 0, reference.stderr[-3000:]

    workdir = str(tmp_path / "killed")
    killed = _train(name, workdir, kill_at=_KILL_AT_BATCH)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert _backup(workdir)[1]["epoch"] == _KILL_AT_BATCH // _STEPS_PER_EPOCH
    rerun = _train(name, workdir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    expected, expected_metadata = _backup(str(tmp_path / "uninterrupted"))
    arrays, metadata = _backup(workdir)
    assert metadata["epoch"] == expected_metadata["epoch"] == 3
    assert sorted(arrays) == sorted(expected) and len(arrays) > 4
    for path, value in expected.items():
        np.testing.assert_array_equal(arrays[path], value, err_msg=path)
    assert metadata["random_state"] == expected_metadata["random_state"]
    if _CONFIGS[name].get("model", name) != "pixel_cnn":  # PixelCNN training draws no noise; others' streams move.
        assert metadata["random_state"]
    with open(os.path.join(workdir, "metrics.json")) as f:
        assert json.load(f)["resumed_from_epoch"] == 1
