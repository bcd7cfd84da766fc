"""The training library end to end on real Fashion-MNIST batches, with a tiny model that keeps the contract."""

import csv
import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from trainers import registry, train_lib
from zoo import ops


class TinyLevelsModel(keras.Model):
    """Per-pixel Bernoulli with one logit per pixel: the smallest model keeping the registry contract."""

    def __init__(self, image_shape, num_classes=None, num_levels=2, diverge_at_step=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.num_levels = num_levels
        self.diverge_at_step = diverge_at_step
        self.logits = self.add_weight(shape=self.image_shape, initializer="zeros", name="logits")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def _nll(self, images):
        x = tf.cast(images, tf.float32)
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=tf.broadcast_to(self.logits, tf.shape(x)))
        return tf.reduce_sum(per_pixel, axis=[1, 2, 3])

    def train_step(self, images):
        with tf.GradientTape() as tape:
            nll = self._nll(images)
            loss = ops.average_over_global_batch(nll)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, [self.logits]), [self.logits]))
        if self.diverge_at_step is not None:
            nll = tf.where(self.optimizer.iterations >= self.diverge_at_step, np.nan, nll)
        self.loss_tracker.update_state(nll)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, images):
        self.loss_tracker.update_state(self._nll(images))
        return {"loss": self.loss_tracker.result()}

    def sample(self, num_samples, seed=None, labels=None):
        u = keras.random.uniform((num_samples,) + self.image_shape, seed=seed)
        return tf.cast(u < tf.sigmoid(self.logits), tf.int32)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "num_classes": self.num_classes,
                "num_levels": self.num_levels, "diverge_at_step": self.diverge_at_step}


class _LocalSpec(registry.ModelSpec):
    def model_class(self):
        return TinyLevelsModel


@pytest.fixture
def tiny_model(monkeypatch):
    spec = _LocalSpec(name="tiny", class_path="", description="test model", preprocessing="levels", num_levels=2,
                      batch_size=32, epochs=2)
    monkeypatch.setitem(registry.MODELS, "tiny", spec)
    keras.saving.get_custom_objects()["TinyLevelsModel"] = TinyLevelsModel
    return spec


def _config(tmp_path, **overrides):
    base = dict(model="tiny", workdir=str(tmp_path / "run"), steps_per_epoch=5, learning_rate=0.1, train_take=640, eval_take=100,
                num_grid_samples=4, verbose=0)
    return train_lib.TrainConfig(**{**base, **overrides})


def test_train_and_evaluate_writes_every_promised_file(tmp_path, tiny_model):
    metrics = train_lib.train_and_evaluate(_config(tmp_path))
    run = tmp_path / "run"
    assert metrics["epochs"] == 2 and metrics["resumed_from_epoch"] == 0
    assert np.isfinite(metrics["test"]["loss"]) and metrics["train_images_per_second"] > 0
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert json.loads((run / "config.json").read_text())["num_levels"] == 2
    assert sorted(os.listdir(run / "checkpoints")) == ["epoch_0001.keras", "epoch_0002.keras"]
    assert Image.open(run / "samples" / "latest.png").size[0] > 0
    assert os.path.exists(run / "model.keras") and os.listdir(run / "tensorboard")
    with open(run / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    # It learned: test NLL of a per-pixel model on binarized Fashion-MNIST is far below log(2) * 784 = 543 nats.
    assert metrics["test"]["loss"] < 500


def test_rerun_resumes_and_continues_the_epoch_count(tmp_path, tiny_model):
    train_lib.train_and_evaluate(_config(tmp_path, epochs=1))
    metrics = train_lib.train_and_evaluate(_config(tmp_path, epochs=3))
    assert metrics["resumed_from_epoch"] == 1
    with open(tmp_path / "run" / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1", "2"]


def test_a_partial_backup_is_reported_and_training_resumes_from_the_last_good_one(tmp_path, tiny_model):
    train_lib.train_and_evaluate(_config(tmp_path, epochs=2))
    weights = tmp_path / "run" / "backup" / "latest.weights.h5"
    weights.write_bytes(weights.read_bytes()[:300])  # Cut short, as by a full disk or an interrupted copy.
    metrics = train_lib.train_and_evaluate(_config(tmp_path, epochs=3))
    assert metrics["resumed_from_epoch"] == 1 and metrics["resumed_from"] == "previous backup"
    assert len(metrics["checkpoint_problems"]) == 1 and "latest backup" in metrics["checkpoint_problems"][0]
    with open(tmp_path / "run" / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1", "2"]


def test_divergence_raises_and_keeps_the_last_good_checkpoint(tmp_path, tiny_model):
    cfg = _config(tmp_path, epochs=4, model_kwargs={"diverge_at_step": 12})  # Step 12 is in epoch 3.
    with pytest.raises(train_lib.TrainingDivergedError, match="epoch 3, batch 2"):
        train_lib.train_and_evaluate(cfg)
    run = tmp_path / "run"
    assert sorted(os.listdir(run / "checkpoints")) == ["epoch_0001.keras", "epoch_0002.keras"]
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    assert not os.path.exists(run / "metrics.json")


def test_resolved_config_takes_registry_defaults_and_overrides(tiny_model):
    cfg = train_lib.TrainConfig(model="tiny", workdir="w", batch_size=8).resolved()
    assert (cfg.epochs, cfg.batch_size, cfg.num_levels) == (2, 8, 2)
    assert train_lib.TrainConfig(model="tiny", workdir="w", num_levels=256).resolved().preprocessing().num_levels == 256


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        (dict(model="nope"), ValueError, "Valid names: .*dcgan.*vae"),
        (dict(epochs=0), ValueError, "epochs"),
        (dict(batch_size=-1), ValueError, "batch_size"),
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(strategy="tpu_pod"), ValueError, "strategy"),
        (dict(num_levels=1), ValueError, "num_levels"),
        (dict(model="dcgan", binarize="stochastic"), ValueError, "binarize"),
        (dict(loss="wasserstein"), ValueError, "`loss` applies to the GANs"),
        (dict(model="gan", loss="hinge"), ValueError, "`loss` must be None or one of"),
        (dict(ema_momentum=1.0), ValueError, "`ema_momentum` must be None or a float in"),
        (dict(ema_momentum=True), ValueError, "`ema_momentum` must be None or a float in"),
        (dict(model="dcgan", ema_momentum=0.99), ValueError, "one optimizer; 'dcgan' has 2 .d_optimizer, g_optimizer"),
    ],
)
def test_bad_configs_are_refused_with_the_argument_named(tiny_model, overrides, error, match):
    with pytest.raises(error, match=match):
        train_lib.TrainConfig(**{"model": "tiny", "workdir": "w", **overrides}).resolved()


def test_loss_overrides_the_registry_game_of_a_gan():
    cfg = train_lib.TrainConfig(model="gan", workdir="w", loss="least_squares", model_kwargs={"hidden_units": [8]})
    assert train_lib.build_model(cfg.resolved(), (28, 28, 1), 10).loss_name == "least_squares"
    default = train_lib.TrainConfig(model="wgan_gp", workdir="w", model_kwargs={"filters": 8}).resolved()
    assert train_lib.build_model(default, (28, 28, 1), 10).loss_name == "wasserstein"


def test_a_workdir_of_another_run_is_refused(tmp_path, tiny_model):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "dcgan", "dataset": "fashion_mnist", "num_levels": None}))
    with pytest.raises(ValueError, match="model='dcgan'"):
        train_lib.train_and_evaluate(_config(tmp_path))


def test_every_registered_spec_is_complete():
    for name, spec in registry.MODELS.items():
        assert spec.name == name and spec.preprocessing in ops.IMAGE_KINDS
        assert (spec.num_levels is not None) == (spec.preprocessing == "levels")
        assert dataclasses.asdict(spec)["optimizers"]


def test_validation_every_epoch_records_the_learning_curve_and_epoch_times(tmp_path, tiny_model):
    train_lib.train_and_evaluate(_config(tmp_path, validate_every_epoch=True))
    with open(tmp_path / "run" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(r["epoch_seconds"]) > 0 for r in rows)
    # The per-epoch validation is the final evaluation's metric on the same (eval_take) test images.
    assert float(rows[1]["val_loss"]) < float(rows[0]["val_loss"]) < 543


def test_polyak_averages_are_validated_evaluated_and_saved_while_training_keeps_raw_weights(tmp_path, tiny_model):
    cfg = _config(tmp_path, ema_momentum=0.9, validate_every_epoch=True)
    metrics = train_lib.train_and_evaluate(cfg)
    run = tmp_path / "run"
    final = keras.models.load_model(run / "model.keras")
    raw = keras.models.load_model(run / "checkpoints" / "epoch_0002.keras")  # The weights as trained, not averaged.
    assert final.optimizer.use_ema and final.optimizer.ema_momentum == 0.9
    assert not np.allclose(final.logits.numpy(), raw.logits.numpy())
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # The last validation scored the weights fit left (the averages): the same loss as the final evaluation.
    np.testing.assert_allclose(float(rows[1]["val_loss"]), metrics["test"]["loss"], rtol=1e-6)
    # A work directory keeps the setting it started with: its optimizer state holds the averages.
    with pytest.raises(ValueError, match="ema_momentum=0.9, not None"):
        train_lib.train_and_evaluate(_config(tmp_path, epochs=3))


def test_a_gan_with_fresh_real_batches_gets_k_images_per_row_and_a_per_epoch_fid(tmp_path):
    cfg = train_lib.TrainConfig(
        model="gan", workdir=str(tmp_path / "gan"), epochs=1, steps_per_epoch=3, batch_size=8, train_take=256,
        eval_take=16, num_grid_samples=4, quality_samples=16, verbose=0,
        model_kwargs={"hidden_units": [16, 16], "latent_dim": 4, "d_steps": 2, "fresh_real_batches": True},
    )
    metrics = train_lib.train_and_evaluate(cfg)
    assert {"fid", "precision", "recall"} <= set(metrics["train"])
    model = keras.models.load_model(tmp_path / "gan" / "model.keras")
    assert int(model.g_optimizer.iterations) == 3 and int(model.d_optimizer.iterations) == 6
    with pytest.raises(ValueError, match="quality_samples"):
        train_lib.TrainConfig(model="gan", workdir="w", quality_samples=-1).resolved()


def test_a_model_with_a_data_dependent_init_starts_from_a_training_batch(tmp_path, monkeypatch):
    from zoo.pixel.pixel_cnn_pp import PixelCNNPlusPlus

    seen = []
    initialize = PixelCNNPlusPlus.initialize_from_data

    def recording(self, images, labels=None):
        seen.append((tuple(images.shape), int(np.max(images)), self.weight_norm))
        return initialize(self, images, labels)

    monkeypatch.setattr(PixelCNNPlusPlus, "initialize_from_data", recording)
    tiny = {"num_resnet": 1, "num_hierarchies": 1, "num_filters": 4, "num_logistic_mix": 2}
    config = _config(tmp_path, model="pixel_cnn_pp", epochs=1, steps_per_epoch=1, batch_size=8, train_take=16,
                     eval_take=8, num_grid_samples=0, learning_rate=1e-3)
    train_lib.train_and_evaluate(dataclasses.replace(config, model_kwargs={**tiny, "weight_norm": True}))
    assert seen == [((8, 28, 28, 1), seen[0][1], True)] and seen[0][1] > 1  # 256-level training images
    # The registry's PixelCNN++ has plain kernels with data_init on: initialised from a training batch too.
    train_lib.train_and_evaluate(dataclasses.replace(config, workdir=str(tmp_path / "plain"), model_kwargs=tiny))
    assert seen[1][0] == (8, 28, 28, 1) and seen[1][1] > 1 and not seen[1][2]
    count = len(seen)
    train_lib.train_and_evaluate(
        dataclasses.replace(config, workdir=str(tmp_path / "off"), model_kwargs={**tiny, "data_init": False})
    )
    assert len(seen) == count  # Nothing to initialise.
