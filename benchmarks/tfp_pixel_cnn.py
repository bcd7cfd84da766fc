r"""The reference for the autoregressive family: TensorFlow Probability's own `tfd.PixelCNN` (PixelCNN++).

    python -m benchmarks.tfp_pixel_cnn [--num_levels=256]
    python -m benchmarks.tfp_pixel_cnn --match_quality=diagonal_bilstm --workdir=runs/quality/tfp_pixel_cnn

Trains `tfp.distributions.PixelCNN` on the same Fashion-MNIST data as `python -m trainers.train
--model=pixel_cnn` (same preprocessing, batch size and learning rate) for the same budget: the training
wall time our `pixel_cnn` took in `benchmarks/results/pixel_cnn[_Nlevels].json` (run
`benchmarks.train_benchmark` first), or the registry's epochs if `--budget=epochs`. It records its test NLL
beside ours in `benchmarks/results/`. A time budget is the fair one here: PixelCNN++ takes several times
longer per step than our PixelCNN on a CPU, so an equal number of steps would give it far more compute. Its discretized logistic mixture is a true discrete
likelihood over `num_levels` values (`high = num_levels - 1`), so its bits/dim compare directly with ours.

With `--match_quality=NAME` the budget is instead the wall time of the long run `benchmarks.quality --run=NAME`
(`benchmarks/results/quality_NAME.json`), at that run's levels: the issue-20 reference "trained for the same
wall time as our best model". That run is hours long, so it checkpoints to `--workdir` every
`--checkpoint_steps` steps (weights, optimizer, steps and seconds spent) and the same command resumes it; its
result goes to `quality_tfp_pixel_cnn[_Nlevels].json`, a row of the "Model quality" table (no samples: the
reference's naive sampler takes minutes for 16 images).

`tfd.PixelCNN` builds its network with Keras 2 (`tf_keras`), so this script, and only this script, trains with
a `tf_keras` optimizer; nothing in `zoo/`, `trainers/` or `export/` imports `tf_keras`.

Reference: Salimans, Karpathy, Chen & Kingma, "PixelCNN++", ICLR 2017.
"""

import json
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from absl import app, flags
from tensorflow_probability.python.internal import tf_keras

from benchmarks import common
from trainers import data, registry, visualize
from zoo.utils import atomic

_NUM_LEVELS = flags.DEFINE_integer("num_levels", 2, "Quantisation levels of the data (2 = binarized, as pixel_cnn).")
_NUM_RESNET = flags.DEFINE_integer("num_resnet", 1, "Residual blocks per hierarchy.")
_NUM_HIERARCHIES = flags.DEFINE_integer("num_hierarchies", 2, "Down/up-sampling hierarchies.")
_NUM_FILTERS = flags.DEFINE_integer("num_filters", 32, "Convolution filters.")
_NUM_MIX = flags.DEFINE_integer("num_logistic_mix", 5, "Logistic mixture components.")
_DROPOUT = flags.DEFINE_float("dropout_p", 0.0, "Dropout; 0 because the budget is a few epochs, far from overfitting.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate (the same as pixel_cnn's).")
_BUDGET = flags.DEFINE_enum("budget", "seconds", ["seconds", "epochs"], "Same training wall time as our pixel_cnn, or same epochs.")
_STEPS = flags.DEFINE_integer("steps_per_epoch", None, "Override the budget (quick checks of this script only).")
_MATCH_QUALITY = flags.DEFINE_string(
    "match_quality", None, "Train for the wall time of `benchmarks.quality --run=NAME`, at its levels (see above)."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoints of a resumable run (required with --match_quality).")
_CHECKPOINT_STEPS = flags.DEFINE_integer("checkpoint_steps", 200, "Steps between checkpoints of a resumable run.")
_TEST_TAKE = flags.DEFINE_integer("test_take", None, "Test batches of 500 to score (quick checks only; default all).")
_OUT = flags.DEFINE_string("out_dir", "benchmarks/results", "Where the result JSON goes.")
_FIGURES = flags.DEFINE_string("figures_dir", "benchmarks/figures", "Where the PNG of samples goes.")

_DATASET = "fashion_mnist"


def _quality_budget(name):
    """`(seconds, num_levels)` of the long run `benchmarks.quality --run=name`, from its result JSON."""
    path = os.path.join(_OUT.value, f"quality_{name}.json")
    if not os.path.isfile(path):
        raise app.UsageError(f"--match_quality={name}: no {path}; run `python -m benchmarks.quality --run={name}` first.")
    with open(path) as f:
        result = json.load(f)
    if (result.get("likelihood") or {}).get("nll_nats") is None:
        raise app.UsageError(f"--match_quality={name}: not a likelihood run (no exact test NLL in {path}).")
    return result["wall_seconds"], result["train_config"]["num_levels"]


class _Reference:
    """`tfd.PixelCNN` with its Adam, a compiled train step and test NLL, and an optional resumable checkpoint."""

    def __init__(self, shape, levels, workdir=None):
        self.dist = tfp.distributions.PixelCNN(
            image_shape=shape, num_resnet=_NUM_RESNET.value, num_hierarchies=_NUM_HIERARCHIES.value,
            num_filters=_NUM_FILTERS.value, num_logistic_mix=_NUM_MIX.value, dropout_p=_DROPOUT.value,
            high=levels - 1, low=0,
        )
        self.optimizer = tf_keras.optimizers.Adam(_LEARNING_RATE.value)
        self.steps = tf.Variable(0, dtype=tf.int64)
        self.seconds = tf.Variable(0.0, dtype=tf.float64)
        self.manager = None
        if workdir:
            checkpoint = tf.train.Checkpoint(
                network=self.dist.network, optimizer=self.optimizer, steps=self.steps, seconds=self.seconds
            )
            self.manager = tf.train.CheckpointManager(checkpoint, os.path.join(workdir, "checkpoints"), max_to_keep=2)

    @tf.function(autograph=False)
    def train_step(self, images):
        return common.tfd_train_step(self.dist, self.optimizer, images)

    @tf.function(autograph=False)
    def test_nll(self, images):
        return -self.dist.log_prob(tf.cast(images, tf.float32))

    def restore(self):
        """Restores the last checkpoint, if any (after the first step has built the network's variables)."""
        if self.manager and self.manager.latest_checkpoint:
            self.manager.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            print(f"resumed from {self.manager.latest_checkpoint}: {int(self.steps.numpy())} steps, "
                  f"{float(self.seconds.numpy()):.0f} s", flush=True)

    def train(self, batches, seconds=None, max_steps=None):
        """Trains until `seconds` of training (summed over resumed runs) or `max_steps` steps."""
        losses = []
        while (self.steps.numpy() < max_steps) if seconds is None else (self.seconds.numpy() < seconds):
            start = time.perf_counter()
            losses.append(float(self.train_step(next(batches))))
            self.seconds.assign_add(time.perf_counter() - start)
            self.steps.assign_add(1)
            taken = int(self.steps.numpy())
            if taken % 100 == 0:
                print(f"step {taken}: train NLL {np.mean(losses[-100:]):.2f} nats", flush=True)
            if self.manager and taken % _CHECKPOINT_STEPS.value == 0:
                self.manager.save()
        if self.manager:
            self.manager.save()

    def parameters(self):
        return int(sum(np.prod(v.shape) for v in self.dist.network.trainable_variables))


def main(argv):
    del argv
    spec = registry.get_spec("pixel_cnn")
    levels, matched_seconds = _NUM_LEVELS.value, None
    if _MATCH_QUALITY.value:
        if not _WORKDIR.value:
            raise app.UsageError("--match_quality trains for hours: give it a --workdir to resume from.")
        matched_seconds, levels = _quality_budget(_MATCH_QUALITY.value)
    prep = data.Preprocessing(kind="levels", num_levels=levels)
    steps = _STEPS.value or spec.steps_per_epoch or data.split_size(_DATASET, "train") // spec.batch_size
    train = data.load(_DATASET, "train", prep, batch_size=spec.batch_size, seed=0).repeat()
    test = data.load(_DATASET, "test", prep, batch_size=500, shuffle=False)
    if _TEST_TAKE.value is not None:
        test = test.take(_TEST_TAKE.value)
    shape = data.image_shape(_DATASET)
    dims = float(np.prod(shape))
    reference = _Reference(shape, levels, _WORKDIR.value)

    ours = "pixel_cnn" if levels == 2 else f"pixel_cnn_{levels}levels"
    seconds = matched_seconds
    if seconds is None and _BUDGET.value == "seconds" and _STEPS.value is None:
        with open(os.path.join(_OUT.value, f"{ours}.json")) as f:
            seconds = json.load(f)["train_wall_seconds"]

    batches = iter(train)
    # Data-dependent weight-norm initialisation and tracing, outside the clock and the step count.
    reference.train_step(next(batches))
    reference.restore()
    for _ in range(int(reference.steps.numpy())):  # A resumed run continues the same batch order.
        next(batches)
    reference.train(batches, seconds=seconds, max_steps=spec.epochs * steps if seconds is None else None)
    taken, train_seconds = int(reference.steps.numpy()), float(reference.seconds.numpy())
    nll = float(np.mean(np.concatenate([reference.test_nll(x).numpy() for x in test])))
    run = "tfp_pixel_cnn" if levels == 2 else f"tfp_pixel_cnn_{levels}levels"
    if _MATCH_QUALITY.value:
        _write_quality(run, reference, levels, taken / steps, train_seconds, nll, dims)
        return

    # One timed call: sampling 16 images takes minutes on a CPU.
    start = time.perf_counter()
    samples = reference.dist.sample(16, seed=1).numpy()
    sample_seconds = time.perf_counter() - start
    os.makedirs(_FIGURES.value, exist_ok=True)
    figure = visualize.save_grid(os.path.join(_FIGURES.value, f"{run}.png"), samples / (levels - 1), num_cols=8, scale=2)
    result = {
        "run": run,
        "model": "tfp.distributions.PixelCNN",
        "num_levels": levels,
        "epochs": taken / steps,
        "steps": taken,
        "budget": _BUDGET.value if _STEPS.value is None else "steps_per_epoch override",
        "budget_matched_to": ours if seconds is not None else None,
        "batch_size": spec.batch_size,
        "parameters": reference.parameters(),
        "train_images_per_second": taken * spec.batch_size / train_seconds,
        "train_wall_seconds": train_seconds,
        "sample_16_seconds": sample_seconds,
        "test": {"nll": nll, "bits_per_dim": nll / (dims * np.log(2))},
        "figure": figure,
        "figure_rows": "16 samples of tfd.PixelCNN (the reference)",
        "architecture": _architecture(),
        **common.provenance("benchmarks.tfp_pixel_cnn"),
        "tensorflow_probability": tfp.__version__,
    }
    os.makedirs(_OUT.value, exist_ok=True)
    atomic.write_json(os.path.join(_OUT.value, f"{run}.json"), result, indent=2, sort_keys=True)
    print(json.dumps(result, sort_keys=True))


def _architecture():
    return {
        "num_resnet": _NUM_RESNET.value, "num_hierarchies": _NUM_HIERARCHIES.value,
        "num_filters": _NUM_FILTERS.value, "num_logistic_mix": _NUM_MIX.value, "dropout_p": _DROPOUT.value,
    }


def _write_quality(run, reference, levels, epochs, train_seconds, nll, dims):
    """The result of a `--match_quality` run, as a row of the "Model quality" table."""
    result = {
        "name": run,
        "model": "tfp.distributions.PixelCNN",
        "note": f"the reference, trained for the wall time of quality:{_MATCH_QUALITY.value} (its training alone; "
                "that run's wall time also holds its per-epoch test evaluation)",
        "parameters": reference.parameters(),
        "epochs": round(epochs, 2),
        "steps": int(reference.steps.numpy()),
        "wall_seconds": train_seconds,
        "budget_matched_to": f"quality:{_MATCH_QUALITY.value}",
        "train_config": {"num_levels": levels, "batch_size": registry.get_spec("pixel_cnn").batch_size,
                         "learning_rate": _LEARNING_RATE.value, "architecture": _architecture()},
        "likelihood": {"nll_nats": nll, "nll_bits_per_dim": nll / (dims * np.log(2)),
                       "images": "all" if _TEST_TAKE.value is None else 500 * _TEST_TAKE.value},
        **common.provenance("benchmarks.tfp_pixel_cnn"),
        "tensorflow_probability": tfp.__version__,
    }
    os.makedirs(_OUT.value, exist_ok=True)
    atomic.write_json(os.path.join(_OUT.value, f"quality_{run}.json"), result, indent=2, sort_keys=True)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
