"""Keras callbacks for zoo training: resumable backups, per-epoch checkpoints, sample grids, NaN guard, speed."""

import glob
import json
import math
import os
import re
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from trainers import visualize


def logs_are_finite(logs):
    """True when every numeric value in a Keras `logs` dict is finite."""
    for value in (logs or {}).values():
        try:
            if not math.isfinite(float(value)):
                return False
        except (TypeError, ValueError):
            continue
    return True


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose logged metrics are not finite.

    Unlike `keras.callbacks.TerminateOnNaN`, it watches every metric (GANs have no "loss"), records where it
    happened in `self.diverged_at`, and leaves the checkpoints of the last good epoch untouched: the other
    zoo callbacks skip saving an epoch whose logs are not finite.
    """

    def __init__(self):
        super().__init__()
        self.diverged_at = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.diverged_at is None and not logs_are_finite(logs):
            self.diverged_at = {"epoch": self._epoch + 1, "batch": batch + 1, "logs": _floats(logs)}
            self.model.stop_training = True


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that never saves a diverged state and never leaves a torn file.

    Each epoch (or every `save_freq` batches) the model's weights, its optimizers' state and the epoch number
    are written to `backup_dir`; a rerun of the same training restores them and continues at the next epoch.
    Files are written under a temporary name and renamed, so a SIGKILL during a save leaves the previous
    backup intact; the previous backup is also kept (`double_checkpoint`) in case the latest is unreadable.
    """

    def __init__(self, backup_dir, save_freq="epoch"):
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=True, delete_checkpoint=False)

    def on_epoch_end(self, epoch, logs=None):
        if logs_are_finite(logs):
            super().on_epoch_end(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if logs_are_finite(logs):
            super().on_train_batch_end(batch, logs)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._weights_path):
            _atomic_copy(self._weights_path, self._prev_weights_path)
            if os.path.exists(self._training_metadata_path):
                _atomic_copy(self._training_metadata_path, self._prev_training_metadata_path)
        tmp = self._weights_path.replace(".weights.h5", ".tmp.weights.h5")
        self.model.save_weights(filepath=tmp, overwrite=True)
        os.replace(tmp, self._weights_path)
        _atomic_write_json(self._training_metadata_path, {"epoch": self._current_epoch, "batch": self._last_batch_seen})

    @property
    def restored_epoch(self):
        """The epoch training resumed at (0 for a fresh run)."""
        return getattr(self.model, "_initial_epoch", None) or 0


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the whole model as `.keras` after every finite epoch: `directory/epoch_0001.keras`, ...

    Keeps the newest `keep` files. Unlike the backup, these are complete, portable models that
    `keras.models.load_model` opens on its own.
    """

    def __init__(self, directory, keep=3):
        super().__init__()
        self.directory = directory
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        if not logs_are_finite(logs):
            return
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.keras")
        tmp = path.replace(".keras", ".tmp.keras")
        self.model.save(tmp)
        os.replace(tmp, path)
        for old in sorted(glob.glob(os.path.join(self.directory, "epoch_*.keras")))[: -self.keep]:
            os.remove(old)


def latest_checkpoint(directory):
    """Path of the newest `epoch_NNNN.keras` in `directory`, or None."""
    paths = [p for p in glob.glob(os.path.join(directory, "epoch_*.keras")) if re.search(r"epoch_\d+\.keras$", p)]
    return max(paths) if paths else None


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid of `model.sample(num_samples, seed=seed)` after every epoch, and to TensorBoard.

    The same seed every epoch gives the same noise, so the grids show how one set of samples evolves.

    Args:
        directory: where `epoch_NNNN.png` files and `latest.png` go.
        to_unit: function mapping the model's sample representation to floats in [0, 1].
        num_samples: images per grid.
        seed: sampling seed, the same every epoch.
        labels: class labels for conditional models (one per sample), or None.
        log_dir: TensorBoard directory for the image summary, or None.
    """

    def __init__(self, directory, to_unit, num_samples=64, seed=1234, labels=None, log_dir=None):
        super().__init__()
        self.directory = directory
        self.to_unit = to_unit
        self.num_samples = num_samples
        self.seed = seed
        self.labels = labels
        self.log_dir = log_dir
        self._writer = None
        self.last_path = None

    def write(self, step):
        """Samples, writes `epoch_{step}.png` and `latest.png`, and returns the epoch file's path."""
        kwargs = {} if self.labels is None else {"labels": self.labels}
        images = np.asarray(self.to_unit(self.model.sample(self.num_samples, seed=self.seed, **kwargs)))
        os.makedirs(self.directory, exist_ok=True)
        self.last_path = visualize.save_grid(os.path.join(self.directory, f"epoch_{step:04d}.png"), images, scale=2)
        visualize.save_grid(os.path.join(self.directory, "latest.png"), images, scale=2)
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
            with self._writer.as_default():
                tf.summary.image("samples", images[: min(16, len(images))], step=step, max_outputs=16)
            self._writer.flush()
        return self.last_path

    def on_epoch_end(self, epoch, logs=None):
        if logs_are_finite(logs):
            self.write(epoch + 1)


class Throughput(keras.callbacks.Callback):
    """Measures training images per second for each epoch (wall time of the epoch's batches)."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.images_per_second = []
        self._start = None
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._batches = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        if self._batches and elapsed > 0:
            self.images_per_second.append(self._batches * self.batch_size / elapsed)

    @property
    def median(self):
        return statistics.median(self.images_per_second) if self.images_per_second else None


def _floats(logs):
    return {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}


def _atomic_write_json(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _atomic_copy(src, dst):
    tmp = f"{dst}.tmp"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        fout.write(fin.read())
    os.replace(tmp, dst)
