r"""PixelCNN++ (`zoo.pixel.pixel_cnn_pp`) against its reference, `tfd.PixelCNN`, side by side in one process.

    python -m benchmarks.pixel_cnn_pp_benchmark --mode=speed
    python -m benchmarks.pixel_cnn_pp_benchmark --mode=likelihood [--seconds=1314] [--workdir=...]

Both use the registry's `pixel_cnn_pp` config, which is `benchmarks/tfp_pixel_cnn.py`'s (num_resnet=1,
num_hierarchies=2, num_filters=32, num_logistic_mix=5, no dropout), on 256-level Fashion-MNIST.

`--mode=speed` (results `benchmarks/results/pixel_cnn_pp_speed.json`): a `tfd.PixelCNN` trained for
`--port_steps` steps is brought over with `PixelCNNPlusPlus.from_tfp` (the log-likelihood difference on test
images is recorded), then, in interleaved rounds so that load from other processes hits both alike:
`tfd.PixelCNN.sample(16)` (inside a `tf.function`, its fastest form) against our cached `sample(16)`; at batch
64, our cached `sample(64)` against one forward pass (`log_prob`) of our model; and the training throughput of
both (`--train_steps` steps of batch 128 each per round, images/s). Goals (issue 17): >= 50x at batch 16,
<= 10 forward passes at batch 64, training >= 1x.

`--mode=likelihood` (results `benchmarks/results/pixel_cnn_pp_Nlevels.json`, N = `--num_levels`): trains both
from their own initialisation for the same training wall time (`--seconds` each; default the time our PixelCNN
trained at those levels, as `benchmarks/tfp_pixel_cnn.py` does), alternating blocks of `--block_steps` steps
in one process, so both train under the same machine load; then test bits/dim of both, our model saved as
`<workdir>/model.keras` (with its training configuration, `<workdir>/config.json`, from which
`trainers.make_presets` makes a preset) and 16 of its samples as `benchmarks/figures/pixel_cnn_pp_Nlevels.png`.
Progress is checkpointed in `--workdir` (default `runs/bench/pixel_cnn_pp_Nlevels`) every `--checkpoint_every`
blocks; the same command resumes an interrupted run, and once the budget is spent it only scores and saves.
`--weight_norm` trains ours weight-normalised, initialised from the first batch as the reference is (names end
in `_wn`); `--data_init` starts ours, with plain kernels, from the same data-dependent initialisation (kernels
rescaled instead of `g`; names end in `_di`); `--seed=N` (N > 0 adds `_seedN`) changes both models' initial
weights and the batch order, for a paired comparison over seeds; `--tag=_3h` appends to the name, so that a
longer budget does not replace a shorter one's result. A copy of a finished run's work directory, given a larger
`--seconds`, continues both models where they stopped.
`--average_momentum=0.999` also keeps Polyak averages of both models' weights (`common.PolyakAverage`; PixelCNN++
trains with them, Salimans et al., 2017), updated after every step inside each model's clock: the averages are
then what is scored, saved and sampled, and the last weights are scored beside them. A run continued from
checkpoints made without averages starts them at the restored weights (the result counts their steps).

`tfd.PixelCNN` needs Keras 2 (`tf_keras`); only the reference's side of this script uses it.
"""

import contextlib
import json
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from absl import app, flags
from tensorflow_probability.python.internal import tf_keras

from benchmarks import common
from trainers import data, registry, visualize
from zoo.pixel.pixel_cnn_pp import PixelCNNPlusPlus
from zoo.utils import atomic

_MODE = flags.DEFINE_enum("mode", "speed", ["speed", "likelihood"], "What to measure (see the module docstring).")
_NUM_LEVELS = flags.DEFINE_integer("num_levels", 256, "Quantisation levels of the data.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate of both models.")
_WEIGHT_NORM = flags.DEFINE_bool("weight_norm", False, "likelihood: train ours with weight_norm=True (tfd.PixelCNN has it).")
_DATA_INIT = flags.DEFINE_bool(
    "data_init", False,
    "likelihood: start ours from the data-dependent initialisation (as tfd.PixelCNN starts), also with plain kernels.",
)
_SEED = flags.DEFINE_integer("seed", 0, "likelihood: seed of both models' initial weights and of the batch order.")
_PORT_STEPS = flags.DEFINE_integer("port_steps", 20, "speed: training steps of the tfd.PixelCNN whose weights are ported.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "speed: interleaved rounds of every timed call.")
_FORWARD_REPEATS = flags.DEFINE_integer("forward_repeats", 5, "speed: forward passes per round (their mean is one).")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 10, "speed: training steps of each model per round.")
_SECONDS = flags.DEFINE_float(
    "seconds", None, "likelihood: training seconds of each model (default: our pixel_cnn's at the same levels)."
)
_TAG = flags.DEFINE_string("tag", "", "likelihood: suffix of the run's name (result, figure, default workdir).")
_BLOCK_STEPS = flags.DEFINE_integer("block_steps", 10, "likelihood: steps of one model before the other's turn.")
_AVERAGE = flags.DEFINE_float(
    "average_momentum", None,
    "likelihood: also keep Polyak averages of both models' weights (e.g. 0.999) and score and save those.",
)
_CHECKPOINT_EVERY = flags.DEFINE_integer("checkpoint_every", 10, "likelihood: blocks between checkpoints.")
_TEST_TAKE = flags.DEFINE_integer("test_take", None, "likelihood: test batches of 500 to score (quick checks only; default all).")
_WORKDIR = flags.DEFINE_string("workdir", None, "likelihood: checkpoints and model (default runs/bench/RUN).")
_OUT_DIR = flags.DEFINE_string("out_dir", "benchmarks/results", "Where the result JSON goes.")
_FIGURES = flags.DEFINE_string("figures_dir", "benchmarks/figures", "Where the PNG of samples goes.")

_DATASET = "fashion_mnist"


class _Pair:
    """Our PixelCNN++ and a `tfd.PixelCNN` of the same config, each with its Adam and a compiled train step."""

    def __init__(self, levels, learning_rate, weight_norm=False, data_init=None, seed=0):
        spec = registry.get_spec("pixel_cnn_pp")
        # The architecture both share; the reference is always weight-normalised and data-initialised, ours as
        # the flags say.
        self.arch = {k: v for k, v in spec.model_kwargs.items() if k not in ("weight_norm", "data_init")}
        self.shape = data.image_shape(_DATASET)
        self.batch_size = spec.batch_size
        self.dist = tfp.distributions.PixelCNN(image_shape=self.shape, high=levels - 1, low=0, **self.arch)
        self.tfp_optimizer = tf_keras.optimizers.Adam(learning_rate)
        keras.utils.set_random_seed(seed)
        self.model = PixelCNNPlusPlus(
            image_shape=self.shape, num_levels=levels, seed=seed, weight_norm=weight_norm, data_init=data_init,
            **self.arch,
        )
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        self.ours_step = tf.function(self.model.train_step)

    @tf.function(autograph=False)
    def tfp_step(self, images):
        return common.tfd_train_step(self.dist, self.tfp_optimizer, images)

    @tf.function(autograph=False)
    def _test_nll(self, images):
        """NLL of both models; traced once, so scoring the last weights and then the averages traces nothing new."""
        return -self.model.log_prob(images), -self.dist.log_prob(tf.cast(images, tf.float32))

    def test_bits_per_dim(self, test):
        nll = {"pixel_cnn_pp": [], "tfp": []}
        for x in test:
            ours, theirs = self._test_nll(x)
            nll["pixel_cnn_pp"].append(ours.numpy())
            nll["tfp"].append(theirs.numpy())
        dims = float(np.prod(self.shape)) * np.log(2)
        return {name: float(np.mean(np.concatenate(values)) / dims) for name, values in nll.items()}

    def parameters(self):
        """Trainable parameters of both models (ours does not store the masked taps)."""
        return {
            "pixel_cnn_pp": int(self.model.count_params()),
            "tfp": int(sum(np.prod(v.shape) for v in self.dist.network.trainable_variables)),
        }


def _data(levels, batch_size, seed=0):
    prep = data.Preprocessing(kind="levels", num_levels=levels)
    train = data.load(_DATASET, "train", prep, batch_size=batch_size, seed=seed).repeat()
    test = data.load(_DATASET, "test", prep, batch_size=500, shuffle=False)
    return iter(train), test


def _seconds(fn):
    start = time.perf_counter()
    np.asarray(fn())
    return time.perf_counter() - start


def _interleaved(fns, repeats):
    """All the times of each of `fns` over `repeats` rounds that call every one in turn (load hits all alike)."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_seconds(fn))
            print(name, f"{times[name][-1]:.3f} s", flush=True)
    return times


def speed():
    levels = _NUM_LEVELS.value
    pair = _Pair(levels, _LEARNING_RATE.value)
    batches, test = _data(levels, pair.batch_size)
    for _ in range(_PORT_STEPS.value):  # Data-dependent initialisation, then steps that apply its masks.
        pair.tfp_step(next(batches))
    ported = PixelCNNPlusPlus.from_tfp(pair.dist, seed=0)
    x = next(iter(test))[:16]
    theirs, ours = pair.dist.log_prob(tf.cast(x, tf.float32)).numpy(), ported.log_prob(x).numpy()
    port_error = float(np.max(np.abs(ours - theirs) / np.abs(theirs)))

    tfp_sample = tf.function(lambda: pair.dist.sample(16, seed=1))
    forward = tf.function(lambda images: ported.log_prob(images))
    images = tf.zeros((64,) + pair.shape, tf.int32)
    for warmup in (1, 2, 16, 64):  # Traces outside the clock.
        ported.sample(warmup, seed=0)
    tfp_sample()
    forward(images)
    times = _interleaved(
        {
            "tfp_sample_16": tfp_sample,
            "ours_sample_16": lambda: ported.sample(16, seed=1),
            "ours_sample_64": lambda: ported.sample(64, seed=1),
            "ours_forward_64": lambda: [forward(images) for _ in range(_FORWARD_REPEATS.value)][-1],
        },
        _REPEATS.value,
    )
    times["ours_forward_64"] = [t / _FORWARD_REPEATS.value for t in times["ours_forward_64"]]

    pair.ours_step(next(batches))
    steps = _TRAIN_STEPS.value
    train = _interleaved(
        {
            "tfp_train": lambda: [pair.tfp_step(next(batches)) for _ in range(steps)][-1],
            "ours_train": lambda: [pair.ours_step(next(batches))["loss"] for _ in range(steps)][-1],
        },
        _REPEATS.value,
    )
    median = {name: statistics.median(values) for name, values in {**times, **train}.items()}
    images_per_second = {name: steps * pair.batch_size / median[name] for name in train}
    result = {
        "run": "pixel_cnn_pp_speed",
        "architecture": pair.arch,
        "num_levels": levels,
        "parameters": {"pixel_cnn_pp": int(ported.count_params()), "tfp": pair.parameters()["tfp"]},
        "port_steps": _PORT_STEPS.value,
        "port_max_relative_log_prob_difference": port_error,
        "seconds": times,
        "median_seconds": {name: median[name] for name in times},
        "sample_16_speedup": median["tfp_sample_16"] / median["ours_sample_16"],
        "sample_64_in_forward_passes": median["ours_sample_64"] / median["ours_forward_64"],
        "train_seconds_per_round": train,
        "train_images_per_second": {"pixel_cnn_pp": images_per_second["ours_train"], "tfp": images_per_second["tfp_train"]},
        "train_speed_ratio": images_per_second["ours_train"] / images_per_second["tfp_train"],
        "repeats": _REPEATS.value,
        **common.provenance("benchmarks.pixel_cnn_pp_benchmark"),
        "tensorflow_probability": tfp.__version__,
    }
    _write(result, "pixel_cnn_pp_speed.json")


def _budget(levels):
    if _SECONDS.value is not None:
        return _SECONDS.value, None
    matched_to = "pixel_cnn" if levels == 2 else f"pixel_cnn_{levels}levels"  # As tfp_pixel_cnn names it.
    with open(os.path.join(_OUT_DIR.value, f"{matched_to}.json")) as f:
        return json.load(f)["train_wall_seconds"], matched_to


def likelihood():
    levels = _NUM_LEVELS.value
    data_init = True if _DATA_INIT.value else None  # None: the model's default, on with weight_norm.
    pair = _Pair(levels, _LEARNING_RATE.value, _WEIGHT_NORM.value, data_init, _SEED.value)
    batches, test = _data(levels, pair.batch_size, _SEED.value)
    seconds, matched_to = _budget(levels)
    # `pixel_cnn_pp.json` is train_benchmark's; this comparison always names its levels.
    run = (f"pixel_cnn_pp_{levels}levels" + ("_wn" if _WEIGHT_NORM.value else "")
           + ("_di" if _DATA_INIT.value and not _WEIGHT_NORM.value else "")
           + (f"_seed{_SEED.value}" if _SEED.value else "") + _TAG.value)
    workdir = _WORKDIR.value or os.path.join("runs", "bench", run)
    first = next(batches)
    if pair.model.data_dependent_init:
        pair.model.initialize_from_data(first)
    # The reference's data-dependent initialisation (on its first call) and both tracings, outside the clock.
    pair.tfp_step(first)
    pair.ours_step(next(batches))
    clock, steps, averages = _train(pair, batches, seconds, workdir)

    scored = test if _TEST_TAKE.value is None else test.take(_TEST_TAKE.value)
    with contextlib.ExitStack() as stack:
        bits = last_bits = pair.test_bits_per_dim(scored)
        if averages:
            # The averages are the models: scored, saved and sampled; the last weights are scored beside them.
            for average in averages.values():
                stack.enter_context(average.swapped())
            bits = pair.test_bits_per_dim(scored)
        os.makedirs(workdir, exist_ok=True)
        pair.model.save(os.path.join(workdir, "model.keras"))
        samples = pair.model.sample(16, seed=1).numpy()
    train_config = {
        "model": "pixel_cnn_pp", "dataset": _DATASET, "num_levels": levels, "batch_size": pair.batch_size,
        "learning_rate": _LEARNING_RATE.value, "seed": _SEED.value,
        "model_kwargs": {**pair.arch, "weight_norm": _WEIGHT_NORM.value, "data_init": pair.model.data_init},
        "seconds": seconds, "workdir": workdir, "average_momentum": _AVERAGE.value,
    }
    atomic.write_json(os.path.join(workdir, "config.json"), train_config, indent=2, sort_keys=True)
    os.makedirs(_FIGURES.value, exist_ok=True)
    figure = visualize.save_grid(
        os.path.join(_FIGURES.value, f"{run}.png"), samples / (levels - 1), num_cols=8, scale=2
    )
    result = {"run": run, "architecture": pair.arch, "weight_norm": _WEIGHT_NORM.value,
              "data_init": pair.model.data_init, "seed": _SEED.value, "num_levels": levels,
              "batch_size": pair.batch_size, "average_momentum": _AVERAGE.value}
    parameters = pair.parameters()
    for name, label in (("ours", "pixel_cnn_pp"), ("tfp", "tfp")):
        taken, spent = int(steps[f"{name}_steps"].numpy()), float(clock[f"{name}_seconds"].numpy())
        result[label] = {
            "parameters": parameters[label],
            "steps": taken,
            "train_wall_seconds": spent,
            "train_images_per_second": taken * pair.batch_size / spent,
            "test_bits_per_dim": bits[label],
        }
        if averages:
            result[label]["test_bits_per_dim_last_weights"] = last_bits[label]
            result[label]["averaged_steps"] = int(averages[name].steps.numpy())
    result.update(
        {
            "budget_seconds_each": seconds,
            "budget_matched_to": matched_to,
            "test_images": "all" if _TEST_TAKE.value is None else 500 * _TEST_TAKE.value,
            "schedule": f"alternating blocks of {_BLOCK_STEPS.value} steps in one process",
            "model_path": os.path.join(workdir, "model.keras"),
            "figure": figure,
            **common.provenance("benchmarks.pixel_cnn_pp_benchmark"),
            "tensorflow_probability": tfp.__version__,
        }
    )
    _write(result, f"{run}.json")


def _train(pair, batches, seconds, workdir):
    """Trains both models in alternating blocks until each has had `seconds`, checkpointing in `workdir`.

    Returns the clocks and step counters (`tf.Variable`s named `ours_seconds`, ..., `tfp_steps`) and, with
    `--average_momentum`, each model's `common.PolyakAverage` (keys "ours" and "tfp"; else an empty dict).
    """
    clock = {name: tf.Variable(0.0, dtype=tf.float64) for name in ("ours_seconds", "tfp_seconds")}
    steps = {name: tf.Variable(0, dtype=tf.int64) for name in ("ours_steps", "tfp_steps")}
    state = dict(
        model=pair.model, optimizer=pair.model.optimizer, tfp_network=pair.dist.network,
        tfp_optimizer=pair.tfp_optimizer, **clock, **steps,
    )
    averages = {}
    if _AVERAGE.value is not None:
        averages = {
            "ours": common.PolyakAverage(pair.model.trainable_variables, _AVERAGE.value),
            "tfp": common.PolyakAverage(pair.dist.network.trainable_variables, _AVERAGE.value),
        }
    averaged = {f"{name}_average": a.state for name, a in averages.items()}
    checkpoint = tf.train.Checkpoint(**state, **averaged)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(workdir, "checkpoints"), max_to_keep=2)
    if manager.latest_checkpoint:
        names = {name.split("/")[0] for name, _ in tf.train.list_variables(manager.latest_checkpoint)}
        if set(averaged) <= names:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        else:
            # A run made without averages: they start at the restored weights.
            older = tf.train.Checkpoint(**state)
            older.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            checkpoint.save_counter.assign(older.save_counter)  # Numbers the next checkpoints after the older ones.
            for average in averages.values():
                average.reset()
        print(f"resumed from {manager.latest_checkpoint}", flush=True)
        # Both models go on with the batches an uninterrupted run would have given them next.
        for _ in range(int(steps["ours_steps"].numpy() + steps["tfp_steps"].numpy())):
            next(batches)
    turns = (("ours", pair.ours_step), ("tfp", pair.tfp_step))
    block = 0
    while min(float(clock[f"{name}_seconds"].numpy()) for name, _ in turns) < seconds:
        for name, step in turns:
            if clock[f"{name}_seconds"].numpy() >= seconds:
                continue
            start = time.perf_counter()
            for _ in range(_BLOCK_STEPS.value):
                out = step(next(batches))
                if averages:
                    averages[name].update()
            np.asarray(out["loss"] if isinstance(out, dict) else out)
            clock[f"{name}_seconds"].assign_add(time.perf_counter() - start)
            steps[f"{name}_steps"].assign_add(_BLOCK_STEPS.value)
        block += 1
        if block % _CHECKPOINT_EVERY.value == 0:
            manager.save()
            print({k: float(v.numpy()) for k, v in {**clock, **steps}.items()}, flush=True)
    manager.save()
    return clock, steps, averages


def _write(result, name):
    os.makedirs(_OUT_DIR.value, exist_ok=True)
    atomic.write_json(os.path.join(_OUT_DIR.value, name), result, indent=2, sort_keys=True)
    print(json.dumps(result, sort_keys=True), flush=True)


def main(argv):
    del argv
    speed() if _MODE.value == "speed" else likelihood()


if __name__ == "__main__":
    app.run(main)
