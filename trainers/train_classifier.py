r"""Trains the feature classifier of the sample-quality metrics and writes its weights and manifest.

    python -m trainers.train_classifier --dataset=fashion_mnist --output_dir=zoo/classifier/weights

Flags only; the logic is `trainers.classifier_lib.train_feature_classifier(ClassifierTrainConfig(...))`
(also importable from here). The run writes `OUTPUT_DIR/<dataset>_classifier.weights.h5` and its manifest
`OUTPUT_DIR/<dataset>_classifier.json`, and prints the manifest as one JSON line (or one `error:` line).
"""

import os
import sys

from trainers import cli, data
from trainers.classifier_lib import ClassifierTrainConfig, train_feature_classifier

__all__ = ["ClassifierTrainConfig", "train_feature_classifier"]


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
    cli.run_and_report(train_feature_classifier, config, (ValueError, data.DataUnavailableError))


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
