"""Training callbacks: NaN stops keep the last good state, backups resume and survive a torn file, grids."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from trainers import callbacks, visualize


def _regression_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _data(finite_batches, nan_batches=0):
    x = np.random.default_rng(0).normal(size=(finite_batches * 4, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    if nan_batches:
        x = np.concatenate([x, np.full((nan_batches * 4, 3), np.nan, "float32")])
        y = np.concatenate([y, np.zeros((nan_batches * 4, 1), "float32")])
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def test_nan_stops_training_and_keeps_the_last_good_epoch(tmp_path):
    model = _regression_model()
    guard = callbacks.StopOnNaN()
    backup = callbacks.ResumableBackup(str(tmp_path / "backup"))
    checkpoints = callbacks.EpochCheckpoint(str(tmp_path / "checkpoints"))
    # Epochs 1 and 2 see finite data; the first batch of epoch 3 is NaN.
    model.fit(_data(8, 8).repeat(), epochs=5, steps_per_epoch=4, callbacks=[guard, backup, checkpoints], verbose=0)
    assert guard.diverged_at["epoch"] == 3 and guard.diverged_at["batch"] == 1
    with open(tmp_path / "backup" / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 2
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0001.keras", "epoch_0002.keras"]
    restored = keras.models.load_model(str(tmp_path / "checkpoints" / "epoch_0002.keras"))
    assert all(np.isfinite(w).all() for w in restored.get_weights())


def test_backup_resumes_at_the_next_epoch_with_optimizer_state(tmp_path):
    first = _regression_model()
    first.fit(_data(4), epochs=2, callbacks=[callbacks.ResumableBackup(str(tmp_path))], verbose=0)
    second = _regression_model()
    history = second.fit(_data(4), epochs=3, callbacks=[callbacks.ResumableBackup(str(tmp_path))], verbose=0)
    assert history.epoch == [2]  # Only the third epoch ran.
    assert int(second.optimizer.iterations) == 3 * 4
    assert not any(name.endswith(".tmp.weights.h5") for name in os.listdir(tmp_path))


def test_a_torn_latest_backup_falls_back_to_the_previous_one(tmp_path):
    model = _regression_model()
    model.fit(_data(4), epochs=2, callbacks=[callbacks.ResumableBackup(str(tmp_path))], verbose=0)
    with open(tmp_path / "latest.weights.h5", "wb") as f:
        f.write(b"torn by a kill")
    again = _regression_model()
    history = again.fit(_data(4), epochs=3, callbacks=[callbacks.ResumableBackup(str(tmp_path))], verbose=0)
    assert history.epoch == [1, 2]  # Resumed from the previous backup, taken after epoch 1.


def _epochs_in(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _flip_a_byte(path):
    """Damages a file the way a bad disk does: same size, one byte changed in the middle."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def _fit(model, epochs, backup_dir, history, checkpoints=None):
    backup = callbacks.ResumableBackup(backup_dir, history_path=history, fallback_dir=checkpoints)
    extra = [callbacks.EpochCheckpoint(checkpoints)] if checkpoints else []
    fit = model.fit(_data(4), epochs=epochs, callbacks=[backup] + extra, verbose=0)
    return fit, backup


def test_a_damaged_backup_is_reported_set_aside_and_the_previous_one_restored(tmp_path, caplog):
    backup_dir, history = str(tmp_path / "backup"), str(tmp_path / "history.csv")
    _fit(_regression_model(), 3, backup_dir, history)
    _flip_a_byte(tmp_path / "backup" / "latest.weights.h5")  # Still a readable HDF5 file, with wrong numbers.

    with caplog.at_level("WARNING", logger="trainers.callbacks"):
        fit, backup = _fit(_regression_model(), 4, backup_dir, history)
    assert fit.epoch == [2, 3]  # Resumed after epoch 2, the previous backup: epoch 3 is trained again.
    assert backup.restored_from == "previous backup" and backup.restored_epoch == 2
    assert len(backup.problems) == 1 and "SHA-256" in backup.problems[0]
    assert "latest backup" in caplog.text and "unusable" in caplog.text
    assert os.path.exists(tmp_path / "backup" / "latest.weights.h5.corrupt")
    assert _epochs_in(history) == [0, 1, 2, 3]  # Every completed epoch exactly once.


def test_with_no_usable_backup_training_restarts_from_the_newest_good_epoch_checkpoint(tmp_path):
    backup_dir, history, checkpoints = str(tmp_path / "backup"), str(tmp_path / "history.csv"), str(tmp_path / "ckpt")
    _fit(_regression_model(), 3, backup_dir, history, checkpoints)
    with open(tmp_path / "backup" / "training_metadata.json", "w") as f:
        f.write('{"epoch": 3, "batch"')  # Torn mid-write.
    os.remove(tmp_path / "backup" / "previous.weights.h5")
    with open(tmp_path / "ckpt" / "epoch_0003.keras", "r+b") as f:
        f.truncate(100)

    fit, backup = _fit(_regression_model(), 4, backup_dir, history, checkpoints)
    assert backup.restored_from == "checkpoint epoch_0002.keras" and fit.epoch == [2, 3]
    assert [p.split(" in ")[0] for p in backup.problems] == ["latest backup", "previous backup",
                                                             "checkpoint epoch_0003.keras"]
    assert _epochs_in(history) == [0, 1, 2, 3]
    assert int(keras.models.load_model(str(tmp_path / "ckpt" / "epoch_0004.keras")).optimizer.iterations) == 4 * 4


def test_with_nothing_usable_training_starts_over_and_says_so(tmp_path):
    backup_dir, history = str(tmp_path / "backup"), str(tmp_path / "history.csv")
    _fit(_regression_model(), 2, backup_dir, history)
    for name in ("latest.weights.h5", "previous.weights.h5"):
        _flip_a_byte(tmp_path / "backup" / name)
    fit, backup = _fit(_regression_model(), 2, backup_dir, history)
    assert fit.epoch == [0, 1] and backup.restored_from is None and len(backup.problems) == 2
    assert _epochs_in(history) == [0, 1]


def test_logs_are_finite():
    assert callbacks.logs_are_finite({"loss": 1.0, "d_loss": np.float32(2.0), "name": "x"})
    assert not callbacks.logs_are_finite({"g_loss": float("inf")})
    assert not callbacks.logs_are_finite({"loss": np.nan})


class _Sampler(keras.Model):
    """A stand-in generator: `sample` returns a fixed gradient image per seed."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)

    def sample(self, num_samples, seed=None, labels=None):
        rng = np.random.default_rng(seed)
        return rng.uniform(-1, 1, size=(num_samples, 8, 8, 1)).astype("float32")


def test_sample_grid_writes_the_same_noise_every_epoch(tmp_path):
    grid = callbacks.SampleGrid(str(tmp_path), to_unit=lambda x: (x + 1) / 2, num_samples=6, seed=7,
                                log_dir=str(tmp_path / "tb"))
    grid.set_model(_Sampler())
    grid.on_epoch_end(0, {"loss": 1.0})
    grid.on_epoch_end(1, {"loss": 0.5})
    first = np.asarray(Image.open(tmp_path / "epoch_0001.png"))
    second = np.asarray(Image.open(tmp_path / "epoch_0002.png"))
    np.testing.assert_array_equal(first, second)
    assert first.shape == (2 * (2 * 9 + 1), 2 * (3 * 9 + 1))  # 2 rows x 3 columns of 8 px + 1 px padding, x2.
    assert os.path.exists(tmp_path / "latest.png") and os.listdir(tmp_path / "tb" / "samples")
    grid.on_epoch_end(2, {"loss": float("nan")})
    assert not os.path.exists(tmp_path / "epoch_0003.png")


def test_make_grid_layout_and_errors():
    images = np.zeros((5, 2, 3, 3), np.float32)
    images[0] = 1.0
    grid = visualize.make_grid(images, num_cols=2, padding=1, pad_value=0.0)
    assert grid.shape == (3 * 3 + 1, 2 * 4 + 1, 3) and grid.dtype == np.uint8
    assert grid[1:3, 1:4].min() == 255 and grid[1:3, 5:8].max() == 0
    with pytest.raises(ValueError, match="shape"):
        visualize.make_grid(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="empty"):
        visualize.make_grid(np.zeros((0, 4, 4, 1)))


class _LatentSampler(keras.Model):
    """A latent-variable model's `sample`: mean images in [0, 1] with `mean=True`, else binary draws of them."""

    def sample(self, num_samples, seed=None, labels=None, mean=False):
        means = np.random.default_rng(seed).uniform(0.2, 0.8, size=(num_samples, 4, 4, 1)).astype("float32")
        if mean:
            return means
        return (np.random.default_rng(seed + 1).uniform(size=means.shape) < means).astype("int32")


def test_sample_grid_of_a_latent_variable_model_shows_mean_rows_above_draws_of_the_same_latents(tmp_path):
    grid = callbacks.SampleGrid(str(tmp_path), to_unit=lambda x: np.asarray(x, "float32"), num_samples=16, seed=5)
    grid.set_model(_LatentSampler())
    images = grid.images()
    assert images.shape == (16, 4, 4, 1)
    means = _LatentSampler().sample(8, seed=5, mean=True)
    # Rows of 4: means of latents 0-3, their draws, means of latents 4-7, their draws.
    np.testing.assert_array_equal(images[0:4], means[0:4])
    np.testing.assert_array_equal(images[8:12], means[4:8])
    draws = np.concatenate([images[4:8], images[12:16]])
    assert set(np.unique(draws)) <= {0.0, 1.0}
    grid.write(1)
    assert Image.open(tmp_path / "epoch_0001.png").size == (2 * (4 * 5 + 1), 2 * (4 * 5 + 1))


def test_epoch_seconds_and_sample_quality_join_the_logs_that_the_backup_records(tmp_path):
    model = _regression_model()
    real = np.random.default_rng(0).normal(size=(64, 3))

    def features(images):
        return images.reshape(len(images), -1)[:, :3].astype("float64")

    class _Gen(keras.Model):
        def sample(self, n, seed=None):
            return np.random.default_rng(seed).normal(size=(n, 3, 1, 1)).astype("float32")

    quality = callbacks.SampleQuality(real, features, to_unit=lambda x: x, num_samples=64, seed=1, batch_size=20)
    quality.set_model(_Gen())
    scores = quality.scores()
    assert set(scores) == {"fid", "precision", "recall"} and scores["fid"] >= 0 and 0 <= scores["recall"] <= 1
    assert quality.scores() == scores  # The same seed every epoch.

    class _Quality(callbacks.SampleQuality):
        def scores(self):
            return {"fid": 1.5}

    backup = callbacks.ResumableBackup(str(tmp_path / "backup"), history_path=str(tmp_path / "history.csv"))
    model.fit(_data(3), epochs=2, verbose=0, callbacks=[
        callbacks.EpochSeconds(), _Quality(real, features, lambda x: x, 4), backup])
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["fid"]) for r in rows] == [1.5, 1.5] and all(float(r["epoch_seconds"]) > 0 for r in rows)


def test_validation_scores_the_polyak_averages_and_gives_the_training_weights_back_bit_for_bit():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9), loss="mse")
    averages = None
    for x, y in _data(8):  # train_on_batch, unlike fit, leaves the raw weights in the model.
        model.train_on_batch(x, y)
        weights = [v.numpy() for v in model.trainable_variables]
        averages = weights if averages is None else [0.9 * a + 0.1 * w for a, w in zip(averages, weights)]
    training = [v.numpy() for v in model.trainable_variables]
    reference = keras.models.clone_model(model)
    reference.compile(loss="mse")
    reference.set_weights(averages)
    expected = reference.evaluate(_data(2), verbose=0)
    assert expected != pytest.approx(model.evaluate(_data(2), verbose=0))

    scored = model.evaluate(_data(2), callbacks=[callbacks.EvaluateAveragedWeights()], verbose=0)
    assert scored == pytest.approx(expected, rel=1e-5)
    for variable, value in zip(model.trainable_variables, training):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_evaluating_averaged_weights_needs_an_optimizer_that_keeps_them():
    model = _regression_model()
    with pytest.raises(ValueError, match="use_ema=True"):
        model.evaluate(_data(1), callbacks=[callbacks.EvaluateAveragedWeights()], verbose=0)
