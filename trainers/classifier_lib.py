"""`train_feature_classifier(config)`: trains the feature classifier of the sample-quality metrics.

The library behind `python -m trainers.train_classifier` (flags only). A run writes

    OUTPUT_DIR/<dataset>_classifier.weights.h5   the `zoo.classifier.FeatureClassifier` weights
    OUTPUT_DIR/<dataset>_classifier.json         manifest: SHA-256, model config, test accuracy on the whole
                                                 test split, the command, date, versions, wall time

both written atomically (`zoo.utils.atomic`). `zoo.classifier.load_feature_classifier(dataset)` verifies the
SHA-256 before loading.

Example:
    >>> from trainers import classifier_lib
    >>> config = classifier_lib.ClassifierTrainConfig(output_dir="/tmp/clf", epochs=1, train_take=2048)
    >>> manifest = classifier_lib.train_feature_classifier(config)
    >>> manifest["test_accuracy"]
"""

import dataclasses
import datetime
import os
import time
from typing import Optional, Sequence

import keras
import tensorflow as tf

from trainers import data
from zoo.classifier import feature_classifier, pretrained
from zoo.utils import atomic
from zoo.utils.versions import versions


@dataclasses.dataclass
class ClassifierTrainConfig:
    """Everything a classifier training run depends on.

    Args:
        dataset: TFDS image dataset with labels.
        output_dir: where the weights and manifest are written. Default: the shipped `zoo/classifier/weights`.
        epochs: passes over the training split.
        batch_size: examples per step.
        learning_rate: peak Adam learning rate, cosine-decayed to 0 over the run.
        weight_decay: decoupled weight decay (AdamW).
        seed: seeds weights, data order, augmentation and dropout.
        flip: augment with random horizontal flips (clothes are roughly mirror-symmetric).
        filters, feature_dim, dropout: `FeatureClassifier` hyperparameters.
        train_take: use only the first N training examples (quick runs).
        eval_take: evaluate on only the first N test examples (quick runs; the shipped manifest uses all).
        data_dir: TFDS data directory.
        verbose: Keras progress output (1 = progress bar, 2 = one line per epoch, 0 = silent).
        command: the command line recorded in the manifest (the CLI fills it in).
    """

    dataset: str = "fashion_mnist"
    output_dir: str = pretrained.WEIGHTS_DIR
    epochs: int = 8
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    flip: bool = True
    filters: Sequence[int] = (32, 64, 128)
    feature_dim: int = 128
    dropout: float = 0.3
    train_take: Optional[int] = None
    eval_take: Optional[int] = None
    data_dir: Optional[str] = None
    verbose: int = 2
    command: Optional[str] = None


def _augment(dataset, seed):
    """Random horizontal flips, one stateless seed per batch so a seed reproduces the run."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def flip(batch, batch_seed):
        images, labels = batch
        return tf.image.stateless_random_flip_left_right(images, batch_seed), labels

    return tf.data.Dataset.zip(dataset, seeds).map(flip, num_parallel_calls=tf.data.AUTOTUNE)


def _check_config(config):
    if not isinstance(config, ClassifierTrainConfig):
        raise TypeError(f"`config` must be a ClassifierTrainConfig; got {type(config).__name__}.")
    for name in ("epochs", "batch_size"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
    if not config.learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0; got {config.learning_rate!r}.")


def _datasets(config, unit):
    """`(train_ds, test_ds)`: seeded, shuffled (and flipped) training batches; the test split in order."""
    train_ds = data.load(
        config.dataset, "train", unit, batch_size=config.batch_size, seed=config.seed, shuffle=True,
        with_labels=True, take=config.train_take, data_dir=config.data_dir,
    )
    if config.flip:
        train_ds = _augment(train_ds, config.seed)
    test_ds = data.load(
        config.dataset, "test", unit, batch_size=500, shuffle=False, with_labels=True, take=config.eval_take,
        data_dir=config.data_dir,
    )
    return train_ds, test_ds


def _build_model(config, steps):
    """The compiled `FeatureClassifier`: AdamW with a learning rate cosine-decayed to 0 over `steps`."""
    model = feature_classifier.FeatureClassifier(
        image_shape=data.image_shape(config.dataset, config.data_dir),
        num_classes=data.num_classes(config.dataset, config.data_dir),
        filters=tuple(config.filters),
        feature_dim=config.feature_dim,
        dropout=config.dropout,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(config.learning_rate, max(steps, 1)),
            weight_decay=config.weight_decay,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def _save_weights(model, config):
    """Writes the model weights (no optimizer state) to `OUTPUT_DIR/<dataset>_classifier.weights.h5`; its path."""
    os.makedirs(config.output_dir, exist_ok=True)
    weights_path = os.path.join(config.output_dir, pretrained.weights_filename(config.dataset))
    # A compiled model's weights file also holds the optimizer state; ship the model weights only (1/3 the size).
    shipped = feature_classifier.FeatureClassifier(**model.get_config())
    shipped.set_weights(model.get_weights())
    with atomic.destination(weights_path) as tmp:
        shipped.save_weights(tmp)
    return weights_path


def _manifest(config, unit, model, weights_path, results):
    """The manifest of a finished run; `results` holds `history`, `test`, `num_train` and `train_seconds`."""
    return {
        # What makes the pair a preset (`zoo.load("classifier_<dataset>")`); `python -m trainers.make_presets
        # --presets=classifier_<dataset>` adds the metrics on the fixed test slice.
        "preset": f"classifier_{config.dataset}",
        "class": "zoo.classifier.feature_classifier:FeatureClassifier",
        "model": "classifier",
        "preprocessing": dataclasses.asdict(unit),
        "dataset": config.dataset,
        "weights_file": os.path.basename(weights_path),
        "sha256": pretrained.sha256_of_file(weights_path),
        "size_bytes": os.path.getsize(weights_path),
        "model_config": {
            "image_shape": list(model.image_shape),
            "num_classes": model.num_classes,
            "filters": list(model.filters),
            "feature_dim": model.feature_dim,
            "dropout": model.dropout,
        },
        "num_parameters": int(model.count_params()),
        "test_accuracy": float(results["test"]["accuracy"]),
        "test_loss": float(results["test"]["loss"]),
        "test_examples": data.split_size(config.dataset, "test", config.data_dir, config.eval_take),
        "train_accuracy_last_epoch": float(results["history"].history["accuracy"][-1]),
        "train_examples": results["num_train"],
        "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()
                         if k not in ("output_dir", "command", "verbose", "data_dir")},
        "command": config.command or f"trainers.train_classifier.train_feature_classifier({config!r})",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "train_wall_seconds": round(results["train_seconds"], 1),
        "cpu_count": os.cpu_count(),
        "versions": versions(),
    }


def train_feature_classifier(config):
    """Trains a `FeatureClassifier` on `config.dataset`, saves weights and manifest, returns the manifest.

    Images are floats in [0, 1] (`trainers.data.Preprocessing(kind="unit")`), labels the dataset's classes;
    the loss is softmax cross-entropy, the optimizer AdamW with a cosine-decayed learning rate. Test accuracy is
    measured after training on the test split (all of it unless `eval_take`).

    Args:
        config: a `ClassifierTrainConfig`.

    Returns:
        The manifest dict also written to `<output_dir>/<dataset>_classifier.json`.

    Raises:
        TypeError: `config` is not a `ClassifierTrainConfig`.
        ValueError: a bad epoch count, batch size or learning rate.
        trainers.data.DataUnavailableError: the dataset cannot be found or downloaded.
    """
    _check_config(config)
    start = time.time()
    keras.utils.set_random_seed(config.seed)
    unit = data.Preprocessing(kind="unit")
    train_ds, test_ds = _datasets(config, unit)
    num_train = data.split_size(config.dataset, "train", config.data_dir, config.train_take)
    model = _build_model(config, config.epochs * (num_train // config.batch_size))
    history = model.fit(train_ds, epochs=config.epochs, verbose=config.verbose)
    train_seconds = time.time() - start
    test = model.evaluate(test_ds, verbose=0, return_dict=True)
    weights_path = _save_weights(model, config)
    results = {"history": history, "test": test, "num_train": num_train, "train_seconds": train_seconds}
    manifest = _manifest(config, unit, model, weights_path, results)
    path = os.path.join(config.output_dir, pretrained.manifest_filename(config.dataset))
    atomic.write_json(path, manifest, trailing_newline=True, indent=2, sort_keys=True)
    return manifest
