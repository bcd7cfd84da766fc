"""Keras callbacks for zoo training: resumable backups, per-epoch checkpoints, sample grids, NaN guard, speed."""

import csv
import glob
import inspect
import json
import logging
import math
import os
import re
import statistics
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from trainers import keras_internals, visualize
from trainers import metrics as quality_metrics
from zoo.presets.preset import sha256_of_file
from zoo.utils import atomic

_logger = logging.getLogger(__name__)


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
    """`keras.callbacks.BackupAndRestore` that checks what it restores and loses no completed epoch.

    After each epoch the model's weights with its optimizers' state, the state of every random stream of the
    model (its `keras.random.SeedGenerator`s: GAN latents, VAE reparameterisation noise, dropout; see
    `random_state`), the epoch number and the metrics of every completed epoch go to `backup_dir`; a rerun of the
    same training restores them and continues at the next epoch. With the input pipeline replayed to the same
    batch (`trainers.train_lib` does), a run killed and rerun ends bit-identical to one never interrupted. A
    kill, a torn copy or a damaged disk costs at most the epoch in progress:

    - Every file is written under a temporary name and renamed. `training_metadata.json` is renamed last and
      holds the SHA-256 of `latest.weights.h5`, so it commits the save: weights that do not match it (a kill
      between the two renames, a truncated or altered file) are refused.
    - The previous backup is kept (`previous.weights.h5`, `previous_training_metadata.json`). A restore tries
      the latest backup, then the previous one, then the complete models in `fallback_dir` (`epoch_NNNN.keras`
      of `EpochCheckpoint`, newest first). Every unusable candidate is reported (a logged warning, and
      `problems`) and renamed `*.corrupt`: kept for inspection, never copied over a good backup. With none
      usable, training starts again from the first epoch. (An `epoch_NNNN.keras` holds no random state: a
      resume from one continues with the model's seeds as built, so it is not bit-identical.)
    - The metrics history is part of the backup: `history_path` (a CSV, one row per epoch) is rewritten from
      it after every save and at every restore, so it lists each epoch of the restored state exactly once,
      whichever checkpoint training resumed from.
    - Only the chief writes (`chief=False` on the other workers of a multi-worker run); every worker restores
      the same files, so a multi-machine run needs `backup_dir` on a shared file system.

    Epochs whose logs are not finite are never saved (see `StopOnNaN`). It overrides a private method of
    `BackupAndRestore` and reads its private state, written for Keras 3.15: on another version the constructor
    raises a `RuntimeError` (`trainers.keras_internals`).

    Args:
        backup_dir: directory of the backup files.
        save_freq: "epoch", or every `save_freq` batches (a resumed run then restarts the interrupted epoch
            from the mid-epoch weights, as Keras does).
        history_path: CSV of the per-epoch metrics kept in step with the backup, or None.
        fallback_dir: directory of `epoch_NNNN.keras` models to restore from when no backup is usable, or None.
        chief: whether this process writes files.

    Example:
        >>> backup = ResumableBackup("run/backup", history_path="run/history.csv", fallback_dir="run/checkpoints")
        >>> model.fit(ds, epochs=10, callbacks=[backup])   # killed after epoch 4
        >>> model.fit(ds, epochs=10, callbacks=[backup])   # runs epochs 5 to 10; backup.restored_epoch == 4
    """

    def __init__(self, backup_dir, save_freq="epoch", history_path=None, fallback_dir=None, chief=True):
        keras_internals.check_keras_version("ResumableBackup")
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=True, delete_checkpoint=False)
        # Keras names them `*.bkp`, which `load_weights` refuses to open: a name it loads directly.
        self._prev_weights_path = os.path.join(backup_dir, "previous.weights.h5")
        self._prev_training_metadata_path = os.path.join(backup_dir, "previous_training_metadata.json")
        self.history_path = history_path
        self.fallback_dir = fallback_dir
        self.chief = chief
        self.history = []
        self.problems = []
        self.restored_from = None
        self._restored_before_fit = False

    def restore(self, model):
        """Restores the newest usable backup into `model` now, before `fit`; returns the epoch it resumes at.

        What `fit` would do at its start, done early so that the caller can position its input pipeline at that
        epoch's first batch; the next `fit` with this callback then does not restore again.

        Example:
            >>> start = backup.restore(model)  # 0 for a fresh run
            >>> model.fit(train_ds.skip(start * steps_per_epoch), steps_per_epoch=steps_per_epoch, callbacks=[backup])
        """
        self.set_model(model)
        self._restore()
        self._restored_before_fit = True
        return self.restored_epoch

    def on_train_begin(self, logs=None):
        if self._restored_before_fit:
            self._restored_before_fit = False
            return
        self._restore()

    def _restore(self):
        if not self.model.built:
            raise ValueError("ResumableBackup restores weights before the first step: build the model before `fit`.")
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.history, self.problems, self.restored_from = [], [], None
        known_history = None
        pairs = (
            ("latest backup", self._weights_path, self._training_metadata_path),
            ("previous backup", self._prev_weights_path, self._prev_training_metadata_path),
        )
        for name, weights, metadata in pairs:
            if not (os.path.exists(weights) or os.path.exists(metadata)):
                continue
            try:
                info = _read_metadata(metadata)
                if known_history is None:
                    known_history = info.get("history")
                _check_weights(weights, info.get("weights_sha256"))
                _load_weights(self.model, weights, verified="weights_sha256" in info)
                set_random_state(self.model, info.get("random_state", {}))
            except _Unusable as e:
                self._discard(name, (weights, metadata), e)
                continue
            return self._restored(name, info["epoch"], info.get("history"))
        for path in _epoch_checkpoints(self.fallback_dir):
            try:
                _check_zip(path)
            except _Unusable as e:
                self._discard(f"checkpoint {os.path.basename(path)}", (path,), e)
                continue
            self.model.load_weights(path)
            epoch = int(re.search(r"epoch_(\d+)\.keras$", path).group(1))
            return self._restored(f"checkpoint {os.path.basename(path)}", epoch, known_history)
        if self.problems:
            _logger.warning("No usable checkpoint in %s: training starts again from the first epoch.", self.backup_dir)
        self._write_history()

    def _restored(self, name, epoch, history):
        self.model._initial_epoch = epoch
        self.restored_from = name
        # Without a history in the metadata (a backup of an older version), keep the CSV's rows before `epoch`.
        history = history if history is not None else read_history(self.history_path)
        self.history = [row for row in history if row["epoch"] < epoch]
        if self.problems:
            _logger.warning("Resumed from the %s, after epoch %d.", name, epoch)
        self._write_history()

    def _discard(self, name, paths, error):
        message = f"{name} in {os.path.dirname(paths[0])} is unusable: {error}"
        self.problems.append(message)
        if self.chief:
            for path in paths:
                if os.path.exists(path):
                    os.replace(path, path + ".corrupt")
            message += " (set aside as *.corrupt)"
        _logger.warning("%s", message)

    def on_epoch_end(self, epoch, logs=None):
        if logs_are_finite(logs):
            self.history = [row for row in self.history if row["epoch"] < epoch] + [{"epoch": epoch, **_floats(logs)}]
            super().on_epoch_end(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if logs_are_finite(logs):
            super().on_train_batch_end(batch, logs)

    def _save_model(self):
        if not self.chief:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if os.path.exists(self._weights_path) and os.path.exists(self._training_metadata_path):
            atomic.copy(self._weights_path, self._prev_weights_path)
            atomic.copy(self._training_metadata_path, self._prev_training_metadata_path)
        with atomic.destination(self._weights_path) as tmp:
            self.model.save_weights(filepath=tmp, overwrite=True)
            digest = sha256_of_file(tmp)
        metadata = {
            "epoch": self._current_epoch,
            "batch": self._last_batch_seen,
            "weights_sha256": digest,
            "random_state": random_state(self.model),
            "history": self.history,
        }
        atomic.write_json(self._training_metadata_path, metadata)
        self._write_history()

    def _write_history(self):
        if not (self.chief and self.history_path):
            return
        keys = sorted({key for row in self.history for key in row} - {"epoch"})
        with atomic.destination(self.history_path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch"] + keys)
            writer.writeheader()
            writer.writerows(self.history)

    @property
    def restored_epoch(self):
        """The epoch training resumed at (0 for a fresh run)."""
        return getattr(self.model, "_initial_epoch", None) or 0


def _seed_states(model):
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def random_state(model):
    """The state of every `keras.random.SeedGenerator` of `model`, `{variable path: [two ints]}` (JSON-ready).

    `save_weights` leaves these out, yet they decide the noise of every later training step (GAN latents and
    gradient-penalty mixes, VAE reparameterisation noise, dropout masks): a resumed run needs them back.
    """
    return {v.path: [int(x) for x in np.asarray(v.numpy()).reshape(-1)] for v in _seed_states(model)}


def set_random_state(model, state):
    """Assigns what `random_state` returned to the model's seed generators; paths it does not hold are left."""
    for variable in _seed_states(model):
        if variable.path in state:
            variable.assign(np.asarray(state[variable.path], variable.dtype))


def backed_up_epoch(backup_dir):
    """Completed epochs recorded by the latest backup in `backup_dir` (0 when there is none or it is unreadable).

    Example:
        >>> backed_up_epoch(os.path.join(workdir, "backup"))  # a resumed run starts at this epoch
    """
    try:
        return _read_metadata(os.path.join(backup_dir, "training_metadata.json"))["epoch"]
    except _Unusable:
        return 0


class _Unusable(Exception):
    """A checkpoint file that is missing, unreadable or does not match its checksum."""


def _read_metadata(path):
    if not os.path.exists(path):
        raise _Unusable("its training_metadata.json is missing")
    try:
        with open(path) as f:
            info = json.load(f)
        epoch = info["epoch"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise _Unusable(f"unreadable metadata ({type(e).__name__}: {e})") from None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise _Unusable(f"metadata holds no epoch number: {info!r:.200}")
    return info


def _check_weights(path, expected_sha256):
    if not os.path.exists(path):
        raise _Unusable("its weights file is missing")
    if expected_sha256 is not None and sha256_of_file(path) != expected_sha256:
        raise _Unusable("the weights do not match the SHA-256 in the metadata (a damaged file or an interrupted save)")


def _load_weights(model, path, verified):
    """Loads `path` into `model`. Verified files that fail to load belong to another model: that error is raised."""
    if verified:
        model.load_weights(path)
        return
    try:
        model.load_weights(path)
    except (OSError, ValueError) as e:
        raise _Unusable(f"unreadable weights ({type(e).__name__}: {str(e)[:200]})") from None


def _check_zip(path):
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as e:
        raise _Unusable(f"not a readable .keras archive ({type(e).__name__}: {e})") from None
    if bad is not None:
        raise _Unusable(f"{bad} inside it fails its CRC check")


def _epoch_checkpoints(directory):
    """`epoch_NNNN.keras` files in `directory`, newest first."""
    if not directory:
        return []
    paths = [p for p in glob.glob(os.path.join(directory, "epoch_*.keras")) if re.search(r"epoch_\d+\.keras$", p)]
    return sorted(paths, reverse=True)


def read_history(path):
    """Rows of a history CSV (`WORKDIR/history.csv`) as dicts with an int "epoch" (from 0) and float metrics.

    Returns [] if there is none. Example: `sum(row["epoch_seconds"] for row in read_history(path))` is the wall
    time of a run's completed epochs, however often it was resumed.
    """
    if not path or not os.path.exists(path):
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                rows.append({"epoch": int(row.pop("epoch")), **{k: float(v) for k, v in row.items() if v != ""}})
            except (KeyError, TypeError, ValueError):
                continue
    return rows


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the whole model as `.keras` after every finite epoch: `directory/epoch_0001.keras`, ...

    Keeps the newest `keep` files. Unlike the backup, these are complete, portable models that
    `keras.models.load_model` opens on its own. Only the chief of a multi-worker run writes (`chief`).
    """

    def __init__(self, directory, keep=3, chief=True):
        super().__init__()
        self.directory = directory
        self.keep = keep
        self.chief = chief

    def on_epoch_end(self, epoch, logs=None):
        if not (self.chief and logs_are_finite(logs)):
            return
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.keras")
        with atomic.destination(path) as tmp:
            self.model.save(tmp)
        for old in sorted(glob.glob(os.path.join(self.directory, "epoch_*.keras")))[: -self.keep]:
            os.remove(old)


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid of `model.sample(num_samples, seed=seed)` after every epoch, and to TensorBoard.

    The same seed every epoch gives the same noise, so the grids show how one set of samples evolves.
    Latent-variable models (whose `sample` takes `mean=True`, the VAE) show what people expect of them: rows
    of the decoder's mean images `E[x | z]`, each followed by a row of draws `x ~ p(x | z)` from the same
    latents (raw Bernoulli draws alone look like noise). Other families show their samples.

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

    num_cols = None  # save_grid's default: a square-ish grid

    def images(self):
        """The grid's images, floats in [0, 1], `(n, H, W, C)`."""
        kwargs = {} if self.labels is None else {"labels": self.labels}
        if "mean" not in inspect.signature(self.model.sample).parameters:
            return np.asarray(self.to_unit(self.model.sample(self.num_samples, seed=self.seed, **kwargs)))
        # Half as many latents, each shown as its mean image and, a row below, as a draw.
        cols = self.num_cols or int(math.ceil(math.sqrt(self.num_samples)))
        count = max(1, self.num_samples // (2 * cols)) * cols
        if self.labels is not None:
            kwargs = {"labels": self.labels[:count]}
        means = np.asarray(self.model.sample(count, seed=self.seed, mean=True, **kwargs))
        draws = np.asarray(self.to_unit(self.model.sample(count, seed=self.seed, **kwargs)))
        rows = [block for start in range(0, count, cols) for block in (means[start:start + cols], draws[start:start + cols])]
        return np.concatenate(rows)

    def _summary(self, images, step):
        tf.summary.image("samples", images[: min(16, len(images))], step=step, max_outputs=16)

    def write(self, step):
        """Makes the images, writes `epoch_{step}.png` and `latest.png`, and returns the epoch file's path."""
        images = self.images()
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"epoch_{step:04d}.png")
        cols = self.num_cols or int(math.ceil(math.sqrt(self.num_samples)))
        self.last_path = visualize.save_grid(path, images, cols, scale=2)
        visualize.save_grid(os.path.join(self.directory, "latest.png"), images, cols, scale=2)
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
            with self._writer.as_default():
                self._summary(images, step)
            self._writer.flush()
        return self.last_path

    def on_epoch_end(self, epoch, logs=None):
        if logs_are_finite(logs):
            self.write(epoch + 1)


class TranslationGrid(SampleGrid):
    """Writes a PNG of fixed images of two domains, their translations and reconstructions after every epoch.

    For unpaired translation models (CycleGAN). Six rows of `n` images: inputs of A, `translate(a, "a2b")`,
    `reconstruct(a, "a2b")` (A -> B -> A), then the same for B with "b2a". The inputs are the same every epoch,
    so the grids show how one set of translations evolves. Same files as `SampleGrid`.

    Args:
        directory: where `epoch_NNNN.png` files and `latest.png` go.
        to_unit: function mapping the model's image representation to floats in [0, 1].
        images_a: `(n, H, W, C)` images of domain A in the model's representation.
        images_b: `(n, H, W, C)` images of domain B.
        log_dir: TensorBoard directory for the image summary, or None.
    """

    def __init__(self, directory, to_unit, images_a, images_b, log_dir=None):
        super().__init__(directory, to_unit, num_samples=len(images_a), log_dir=log_dir)
        self.images_a = images_a
        self.images_b = images_b
        self.num_cols = len(images_a)

    def images(self):
        """The six rows of the grid, floats in [0, 1], as one array `(6 * n, H, W, C)`."""
        rows = []
        for images, direction in ((self.images_a, "a2b"), (self.images_b, "b2a")):
            rows += [images, self.model.translate(images, direction), self.model.reconstruct(images, direction)]
        return np.concatenate([np.asarray(self.to_unit(row)) for row in rows])


    def _summary(self, images, step):
        tf.summary.image("translations", visualize.make_grid(images, self.num_cols)[None] / 255.0, step=step)


class EpochSeconds(keras.callbacks.Callback):
    """Adds `epoch_seconds` to every epoch's logs: the wall time of its steps and validation.

    Recorded in `history.csv` and the backups, so the wall time of a run interrupted and resumed any number of
    times is the sum of the column. Place it first: later callbacks' work (checkpoints, grids) is not counted.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class EvaluateAveragedWeights(keras.callbacks.Callback):
    """Scores the validation of `fit` with the optimizer's moving averages of the weights (Polyak averaging).

    For a model compiled with `keras.optimizers.Adam(use_ema=True, ...)` (any optimizer with `use_ema`):
    before each evaluation it copies the training weights aside and puts the averages in their place
    (`optimizer.finalize_variable_values`, as `fit` does once training ends), and afterwards it puts the training
    weights back exactly, bit for bit. So the `val_*` learning curve scores the same weights as the model `fit`
    leaves, while training, backups and the per-epoch checkpoints keep the raw weights.
    `keras.callbacks.SwapEMAWeights` swaps by adding and subtracting, which rounds the training weights at each
    swap; a copy costs one model's worth of memory and rounds nothing.

    Salimans et al. (2017), "PixelCNN++", evaluate with Polyak averages of the parameters (decay 0.9995).

    Example:
        model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.999))
        model.fit(train_ds, validation_data=test_ds, epochs=10, callbacks=[EvaluateAveragedWeights()])
    """

    def __init__(self):
        super().__init__()
        self._training_weights = None

    def on_test_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "use_ema", False):
            raise ValueError("EvaluateAveragedWeights needs a model compiled with an optimizer with use_ema=True.")
        if optimizer.built:  # Before the first step there are no averages: the weights are scored as they are.
            self._training_weights = [v.numpy() for v in self.model.trainable_variables]
            optimizer.finalize_variable_values(self.model.trainable_variables)

    def on_test_end(self, logs=None):
        if self._training_weights is not None:
            for variable, value in zip(self.model.trainable_variables, self._training_weights):
                variable.assign(value)
            self._training_weights = None


class SampleQuality(keras.callbacks.Callback):
    """Adds FID and k-NN precision/recall of fresh samples to every epoch's logs: a generator's learning curve.

    After each epoch it draws `num_samples` images with `model.sample` (the same seed every epoch) and
    scores them against `real_features` in the feature space of `features`; `fid`, `precision` and `recall`
    join the epoch's logs, so `history.csv`, TensorBoard and the backups record them. Place it before the
    callbacks that read the logs.

    Args:
        real_features: `(n, d)` features of real images (e.g. the first n test images).
        features: function from floats in [0, 1] `(n, H, W, C)` to `(n, d)` features.
        to_unit: function mapping the model's samples to floats in [0, 1].
        num_samples: images drawn per epoch.
        seed: sampling seed.
        labels_fn: for conditional models, function `n -> labels`; None otherwise.
        batch_size: images per `sample` call.
    """

    def __init__(self, real_features, features, to_unit, num_samples, seed=0, labels_fn=None, batch_size=500):
        super().__init__()
        self.real_features = real_features
        self.features = features
        self.to_unit = to_unit
        self.num_samples = num_samples
        self.seed = seed
        self.labels_fn = labels_fn
        self.batch_size = batch_size

    def scores(self):
        chunks = []
        for offset in range(0, self.num_samples, self.batch_size):
            n = min(self.batch_size, self.num_samples - offset)
            kwargs = {} if self.labels_fn is None else {"labels": self.labels_fn(n)}
            chunks.append(np.asarray(self.to_unit(self.model.sample(n, seed=self.seed + offset, **kwargs))))
        fake = self.features(np.concatenate(chunks))
        pr = quality_metrics.precision_recall(self.real_features, fake, k=3)
        return {"fid": float(quality_metrics.fid(self.real_features, fake)),
                "precision": float(pr.precision), "recall": float(pr.recall)}

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and logs_are_finite(logs):
            logs.update(self.scores())


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
