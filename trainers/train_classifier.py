r"""Trains the feature classifier of the sample-quality metrics and writes its weights and manifest.

    python -m trainers.train_classifier --dataset=fashion_mnist --output_dir=zoo/classifier/weights

Flags only; the logic is `train_feature_classifier(ClassifierTrainConfig(...))`. The run writes

    OUTPUT_DIR/<dataset>_classifier.weights.h5   the `zoo.classifier.FeatureClassifier` weights
    OUTPUT_DIR/<dataset>_classifier.json         manifest: SHA-256, model config, test accuracy on the whole
                                                 test split, this command, date, versions, wall time

and prints the manifest as one JSON line. `zoo.classifier.load_feature_classifier(dataset)` verifies the
SHA-256 before loading.

Example:
    >>> from trainers import train_classifier
    >>> config = train_classifier.ClassifierTrainConfig(output_dir="/tmp/clf", epochs=1, train_take=2048)
    >>> manifest = train_classifier.train_feature_classifier(config)
    >>> manifest["test_accuracy"]
"""

import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from trainers import data
from zoo.classifier import feature_classifier, pretrained


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


def _versions():
    import tensorflow_datasets as tfds
    import tensorflow_probability as tfp

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "tensorflow_datasets": tfds.__version__,
        "tensorflow_probability": tfp.__version__,
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
    """
    if not isinstance(config, ClassifierTrainConfig):
        raise TypeError(f"`config` must be a ClassifierTrainConfig; got {type(config).__name__}.")
    for name in ("epochs", "batch_size"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
    if not config.learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0; got {config.learning_rate!r}.")
    start = time.time()
    keras.utils.set_random_seed(config.seed)
    unit = data.Preprocessing(kind="unit")
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
    num_train = data.split_size(config.dataset, "train", config.data_dir, config.train_take)
    steps = config.epochs * (num_train // config.batch_size)

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
    history = model.fit(train_ds, epochs=config.epochs, verbose=config.verbose)
    train_seconds = time.time() - start
    test = model.evaluate(test_ds, verbose=0, return_dict=True)

    os.makedirs(config.output_dir, exist_ok=True)
    weights_path = os.path.join(config.output_dir, pretrained.weights_filename(config.dataset))
    # A compiled model's weights file also holds the optimizer state; ship the model weights only (1/3 the size).
    shipped = feature_classifier.FeatureClassifier(**model.get_config())
    shipped.set_weights(model.get_weights())
    shipped.save_weights(weights_path)
    command = config.command or f"trainers.train_classifier.train_feature_classifier({config!r})"
    manifest = {
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
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "test_examples": data.split_size(config.dataset, "test", config.data_dir, config.eval_take),
        "train_accuracy_last_epoch": float(history.history["accuracy"][-1]),
        "train_examples": num_train,
        "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()
                         if k not in ("output_dir", "command", "verbose", "data_dir")},
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "train_wall_seconds": round(train_seconds, 1),
        "cpu_count": os.cpu_count(),
        "versions": _versions(),
    }
    with open(os.path.join(config.output_dir, pretrained.manifest_filename(config.dataset)), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest


def _main(argv):
    from absl import flags

    del argv
    values = flags.FLAGS
    config = ClassifierTrainConfig(
        dataset=values.dataset,
        output_dir=values.output_dir,
        epochs=values.epochs,
        batch_size=values.batch_size,
        learning_rate=values.learning_rate,
        seed=values.seed,
        flip=values.flip,
        train_take=values.train_take,
        eval_take=values.eval_take,
        data_dir=values.data_dir,
        verbose=values.verbose,
        command=" ".join(["python -m trainers.train_classifier"] + sys.argv[1:]),
    )
    try:
        manifest = train_feature_classifier(config)
    except (ValueError, data.DataUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(manifest, sort_keys=True))


def _define_flags():
    # Defined only when run as a script: importing this module for `train_feature_classifier` must not add
    # global absl flags (`--epochs`, `--seed`, ...) that collide with another CLI's in the same process.
    from absl import flags

    defaults = ClassifierTrainConfig()
    flags.DEFINE_string("dataset", defaults.dataset, "TFDS image dataset with labels.")
    flags.DEFINE_string("output_dir", os.path.relpath(defaults.output_dir), "Directory for weights and manifest.")
    flags.DEFINE_integer("epochs", defaults.epochs, "Passes over the training split.")
    flags.DEFINE_integer("batch_size", defaults.batch_size, "Examples per step.")
    flags.DEFINE_float("learning_rate", defaults.learning_rate, "Peak learning rate (cosine decay).")
    flags.DEFINE_integer("seed", defaults.seed, "Random seed.")
    flags.DEFINE_boolean("flip", defaults.flip, "Random horizontal flips.")
    flags.DEFINE_integer("train_take", None, "Use only the first N training examples.")
    flags.DEFINE_integer("eval_take", None, "Evaluate on only the first N test examples.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    flags.DEFINE_integer("verbose", defaults.verbose, "Keras verbosity: 1 progress bar, 2 a line per epoch, 0 silent.")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(_main)
