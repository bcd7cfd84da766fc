r"""The reference for the autoregressive family: TensorFlow Probability's own `tfd.PixelCNN` (PixelCNN++).

    python -m benchmarks.tfp_pixel_cnn [--num_levels=256]

Trains `tfp.distributions.PixelCNN` on the same Fashion-MNIST data as `python -m trainers.train
--model=pixel_cnn` (same preprocessing, batch size and learning rate) for the same budget: the training
wall time our `pixel_cnn` took in `benchmarks/results/pixel_cnn[_Nlevels].json` (run
`benchmarks.train_benchmark` first), or the registry's epochs if `--budget=epochs`. It records its test NLL
beside ours in `benchmarks/results/`. A time budget is the fair one here: PixelCNN++ takes several times
longer per step than our PixelCNN on a CPU, so an equal number of steps would give it far more compute. Its discretized logistic mixture is a true discrete
likelihood over `num_levels` values (`high = num_levels - 1`), so its bits/dim compare directly with ours.

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
_OUT = flags.DEFINE_string("out_dir", "benchmarks/results", "Where the result JSON goes.")
_FIGURES = flags.DEFINE_string("figures_dir", "benchmarks/figures", "Where the PNG of samples goes.")

_DATASET = "fashion_mnist"


def main(argv):
    del argv
    spec = registry.get_spec("pixel_cnn")
    levels = _NUM_LEVELS.value
    prep = data.Preprocessing(kind="levels", num_levels=levels)
    steps = _STEPS.value or spec.steps_per_epoch or data.split_size(_DATASET, "train") // spec.batch_size
    train = data.load(_DATASET, "train", prep, batch_size=spec.batch_size, seed=0).repeat()
    test = data.load(_DATASET, "test", prep, batch_size=500, shuffle=False)
    shape = data.image_shape(_DATASET)
    dims = float(np.prod(shape))

    dist = tfp.distributions.PixelCNN(
        image_shape=shape, num_resnet=_NUM_RESNET.value, num_hierarchies=_NUM_HIERARCHIES.value,
        num_filters=_NUM_FILTERS.value, num_logistic_mix=_NUM_MIX.value, dropout_p=_DROPOUT.value,
        high=levels - 1, low=0,
    )
    optimizer = tf_keras.optimizers.Adam(_LEARNING_RATE.value)

    @tf.function
    def train_step(images):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(tf.cast(images, tf.float32), training=True))
        variables = dist.network.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function
    def test_nll(images):
        return -dist.log_prob(tf.cast(images, tf.float32))

    ours = "pixel_cnn" if levels == 2 else f"pixel_cnn_{levels}levels"
    seconds = None
    if _BUDGET.value == "seconds" and _STEPS.value is None:
        with open(os.path.join(_OUT.value, f"{ours}.json")) as f:
            seconds = json.load(f)["train_wall_seconds"]

    batches = iter(train)
    train_step(next(batches))  # Data-dependent weight-norm initialisation and tracing, outside the clock.
    start, taken, losses = time.perf_counter(), 0, []
    while (taken < spec.epochs * steps) if seconds is None else (time.perf_counter() - start < seconds):
        losses.append(float(train_step(next(batches))))
        taken += 1
        if taken % 100 == 0:
            print(f"step {taken}: train NLL {np.mean(losses[-100:]):.2f} nats", flush=True)
    train_seconds = time.perf_counter() - start
    nll = float(np.mean(np.concatenate([test_nll(x).numpy() for x in test])))

    # One timed call: sampling 16 images takes minutes on a CPU.
    start = time.perf_counter()
    samples = dist.sample(16, seed=1).numpy()
    sample_seconds = time.perf_counter() - start
    os.makedirs(_FIGURES.value, exist_ok=True)
    run = "tfp_pixel_cnn" if levels == 2 else f"tfp_pixel_cnn_{levels}levels"
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
        "parameters": int(sum(np.prod(v.shape) for v in dist.network.trainable_variables)),
        "train_images_per_second": taken * spec.batch_size / train_seconds,
        "train_wall_seconds": train_seconds,
        "sample_16_seconds": sample_seconds,
        "test": {"nll": nll, "bits_per_dim": nll / (dims * np.log(2))},
        "figure": figure,
        "figure_rows": "16 samples of tfd.PixelCNN (the reference)",
        "architecture": {
            "num_resnet": _NUM_RESNET.value, "num_hierarchies": _NUM_HIERARCHIES.value,
            "num_filters": _NUM_FILTERS.value, "num_logistic_mix": _NUM_MIX.value, "dropout_p": _DROPOUT.value,
        },
        **common.provenance("benchmarks.tfp_pixel_cnn"),
        "tensorflow_probability": tfp.__version__,
    }
    os.makedirs(_OUT.value, exist_ok=True)
    atomic.write_json(os.path.join(_OUT.value, f"{run}.json"), result, indent=2, sort_keys=True)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
