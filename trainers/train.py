r"""Trains a zoo model: `python -m trainers.train --model=NAME --workdir=DIR [flags]`.

Flags only; the logic is `trainers.train_lib.train_and_evaluate`. Rerunning the same command resumes from the
last completed epoch. The final metrics are printed as one JSON line and written to `WORKDIR/metrics.json`.

Example:
    python -m trainers.train --model=vae --workdir=runs/vae --epochs=5
    python -m trainers.train --model=dcgan --workdir=runs/dcgan --strategy=mirrored   # every local GPU
    TF_CONFIG='{"cluster": {"worker": ["h1:2222", "h2:2222"]}, "task": {"type": "worker", "index": 0}}' \
        python -m trainers.train --model=dcgan --workdir=/shared/runs/dcgan --strategy=multi_worker
    python -m trainers.train --model=pixel_cnn --num_levels=256 --workdir=runs/pixel_cnn_256 \
        --model_kwargs='{"num_layers": 7}'
    python -m trainers.train --model=cyclegan --workdir=runs/cyclegan --domains=sneaker,ankle_boot
"""

import json

from absl import app, flags

from trainers import cli, data, distribute, registry, train_lib

_MODEL = flags.DEFINE_enum("model", "vae", sorted(registry.MODELS), "Registered model to train.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (checkpoints, samples, logs, metrics).", required=True)
_DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "TFDS image dataset.")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Epochs (default: the model's).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Global batch size (default: the model's).")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", None, "Learning rate (default: the model's).")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
_STEPS = flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch (default: the whole split).")
_NUM_LEVELS = flags.DEFINE_integer("num_levels", None, "Quantisation levels for likelihood models (2 = binarized).")
_BINARIZE = flags.DEFINE_enum("binarize", "fixed", ["fixed", "stochastic"], "Binarization when num_levels=2.")
_MODEL_KWARGS = flags.DEFINE_string("model_kwargs", "{}", "JSON object of model hyperparameters.")
_TRAIN_TAKE = flags.DEFINE_integer("train_take", None, "Use only the first N training examples.")
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Evaluate on only the first N test examples.")
_GRID = flags.DEFINE_integer("num_grid_samples", 64, "Images per sample grid (0 = none).")
_STRATEGY = flags.DEFINE_enum(
    "strategy", "default", list(train_lib.STRATEGIES),
    "tf.distribute strategy: one device, all local devices, the machines of TF_CONFIG, or a TPU.",
)
_TPU = flags.DEFINE_string("tpu", None, "For --strategy=tpu: TPU name or grpc:// address (default: TPU_NAME, else local).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "Keras verbosity: 1 progress bar, 2 a line per epoch, 0 silent.")
_DOMAINS = flags.DEFINE_list(
    "domains", None, "Unpaired models (cyclegan): classes of domains A,B as indices or names (fashion_mnist default: 7,9)."
)
_VALIDATE = flags.DEFINE_boolean(
    "validate_every_epoch", False, "Score the whole eval split after every epoch (val_* in history.csv: learning curves)."
)
_QUALITY = flags.DEFINE_integer(
    "quality_samples", 0, "Generators: FID/precision/recall of this many samples after every epoch (0 = off)."
)
_IMAGE_SIZE = flags.DEFINE_integer("image_size", None, "Unpaired models: resize images to this size (cycle_gan/* needs it).")
_LOSS = flags.DEFINE_enum(
    "loss", None, ["non_saturating", "minimax", "wasserstein", "least_squares"], "GANs: the game (default: the model's)."
)
_EMA = flags.DEFINE_float(
    "ema_momentum", None, "One-optimizer models: Polyak-average the weights with this momentum (e.g. 0.9995); "
    "validation, evaluation and model.keras use the averages."
)


def main(argv):
    del argv
    try:
        model_kwargs = json.loads(_MODEL_KWARGS.value)
    except json.JSONDecodeError as e:
        raise app.UsageError(f"--model_kwargs must be a JSON object: {e}")
    if not isinstance(model_kwargs, dict):
        raise app.UsageError(f"--model_kwargs must be a JSON object; got {_MODEL_KWARGS.value!r}.")
    config = train_lib.TrainConfig(
        model=_MODEL.value,
        workdir=_WORKDIR.value,
        dataset=_DATASET.value,
        epochs=_EPOCHS.value,
        batch_size=_BATCH_SIZE.value,
        learning_rate=_LEARNING_RATE.value,
        seed=_SEED.value,
        steps_per_epoch=_STEPS.value,
        num_levels=_NUM_LEVELS.value,
        binarize=_BINARIZE.value,
        model_kwargs=model_kwargs,
        train_take=_TRAIN_TAKE.value,
        eval_take=_EVAL_TAKE.value,
        num_grid_samples=_GRID.value,
        strategy=_STRATEGY.value,
        tpu=_TPU.value,
        data_dir=_DATA_DIR.value,
        verbose=_VERBOSE.value,
        domains=None if _DOMAINS.value is None else tuple(_DOMAINS.value),
        image_size=_IMAGE_SIZE.value,
        validate_every_epoch=_VALIDATE.value,
        quality_samples=_QUALITY.value,
        loss=_LOSS.value,
        ema_momentum=_EMA.value,
    )
    metrics = cli.run_and_report(
        train_lib.train_and_evaluate,
        config,
        (ValueError, data.DataUnavailableError, train_lib.TrainingDivergedError, distribute.StrategyUnavailableError),
    )
    print(f"Results in {metrics['workdir']}: samples {metrics['samples_png']}, metrics {metrics['workdir']}/metrics.json")


if __name__ == "__main__":
    app.run(main)
