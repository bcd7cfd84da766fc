r"""Latency of every serving verb through the exported SavedModel versus the Keras model in Python.

    python -m benchmarks.serving_benchmark [--models=dcgan,gan,vae,pixel_cnn,...] [--batch_sizes=1,64] [--repeats=5] \
        [--keep_other_rows]

For each model: its shipped preset (`zoo.load("<model>_fashion_mnist")`, or the preset named in `--models`,
e.g. `pixel_cnn_pp_fashion_mnist_256levels`; trained weights, 28x28x1), exported
with `export.saved_model.to_saved_model`, reloaded with `tf.saved_model.load`. Each repeat times, side by side
in one process, one call of a reloaded signature and one call of the Keras verb that answers the same request;
both are warmed up first:

- `sample`: `serving_default` with one seed per row versus `model.sample(batch, seed=0)`;
- `complete` (autoregressive models): the `complete` signature with one seed per row versus
  `model.complete(images, known_mask, seed=0)`, on the first `batch` test images with their top half known.

The medians over the interleaved repeats and their ratio (SavedModel / Keras; goal <= 1.0) are recorded, with
throughput = batch / median latency, and the ratio of each round's two calls (median and quartiles): on a
shared machine whose load changes from second to second, back-to-back calls share it. Results go to `benchmarks/results/serving.json`;
`python -m benchmarks.make_results` turns them into the markdown of `benchmarks/RESULTS.md`.
"""

import json
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import common
from zoo.utils import atomic

_MODELS = flags.DEFINE_list(
    "models",
    ["dcgan", "gan", "vae", "pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm",
     "pixel_cnn_pp_fashion_mnist_256levels"],
    "Registered models whose `<model>_fashion_mnist` preset is timed, or full preset names.",
)
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1", "64"], "Rows per request.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per model, verb, batch size and path.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/serving.json", "Where the result JSON goes.")
_KEEP = flags.DEFINE_bool(
    "keep_other_rows", False,
    "Keep --out's rows of the models, verbs and batch sizes not measured now (each new row records its command).",
)


def load_preset(name):
    """The shipped preset `name`, or else the Fashion-MNIST preset of registered model `name`, and its name."""
    from zoo.presets import registry

    preset = name if name in registry.available_presets() else f"{name}_fashion_mnist"
    return registry.load(preset), preset


def time_side_by_side(calls, repeats):
    """Seconds of each zero-argument callable in `calls` (a dict), interleaved over `repeats` rounds.

    Returns `{key: [seconds of each round]}`; the calls of one round run back to back, so their ratio is taken
    under the same load of a shared machine.
    """
    for fn in calls.values():
        fn()  # Traces, and warms caches.
    times = {key: [] for key in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return times


def _completion_inputs(model, batch):
    """The first `batch` Fashion-MNIST test images as the model's levels, and a mask keeping their top half."""
    from trainers import data

    prep = data.Preprocessing("levels", num_levels=model.num_levels)
    images = data.example_batch("fashion_mnist", "test", prep, batch)[0].numpy()
    known = np.zeros(images.shape, bool)
    known[:, : model.image_shape[0] // 2] = True
    return images, known


def _calls(model, signatures, verb, batch):
    """`{"keras": fn, "saved_model": fn}` answering the same request of `batch` rows with `verb`."""
    seeds = tf.constant(np.arange(batch), tf.int64)
    if verb == "sample":
        serving = signatures["serving_default"]
        return {
            "keras": lambda: np.asarray(model.sample(batch, seed=0)),
            "saved_model": lambda: serving(seed=seeds)["images_uint8"].numpy(),
        }
    images, known = _completion_inputs(model, batch)
    serving = signatures["complete"]
    images_t, known_t = tf.constant(images), tf.constant(known)
    return {
        "keras": lambda: np.asarray(model.complete(images, known, seed=0)),
        "saved_model": lambda: serving(images=images_t, known_mask=known_t, seed=seeds)["images_uint8"].numpy(),
    }


def benchmark(models, batch_sizes, repeats):
    """Times every model, verb and batch size; returns the result dict written to serving.json."""
    from export import saved_model

    rows = []
    with tempfile.TemporaryDirectory() as base:
        for name in models:
            model, preset = load_preset(name)
            if getattr(model, "num_classes", None):
                raise app.UsageError(f"--models: {name} is class-conditional; time unconditional presets.")
            kind = saved_model.signature_family(model)
            signatures = tf.saved_model.load(saved_model.to_saved_model(model, base, name)).signatures
            for verb in ("sample", "complete") if kind == "autoregressive" else ("sample",):
                for batch in batch_sizes:
                    times = time_side_by_side(_calls(model, signatures, verb, batch), repeats)
                    medians = {key: statistics.median(values) for key, values in times.items()}
                    ratios = [a / b for a, b in zip(times["saved_model"], times["keras"])]
                    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
                    rows.append(
                        {
                            "model": name,
                            "preset": preset,
                            "family": kind,
                            "verb": verb,
                            "batch": batch,
                            "keras_ms": 1000 * medians["keras"],
                            "saved_model_ms": 1000 * medians["saved_model"],
                            "saved_model_over_keras": medians["saved_model"] / medians["keras"],
                            "round_ratio_median": statistics.median(ratios),
                            "round_ratio_quartiles": [quartiles[0], quartiles[2]],
                            "keras_images_per_s": batch / medians["keras"],
                            "saved_model_images_per_s": batch / medians["saved_model"],
                            "repeats": repeats,
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    return {
        "benchmark": "serving",
        **common.provenance("benchmarks.serving_benchmark"),
        "weights": "the shipped Fashion-MNIST presets (`zoo.load('<model>_fashion_mnist')`)",
        "rows": rows,
    }


def main(argv):
    del argv
    try:
        batch_sizes = [int(b) for b in _BATCH_SIZES.value]
    except ValueError:
        raise app.UsageError(f"--batch_sizes must be ints; got {_BATCH_SIZES.value}.")
    if _REPEATS.value < 1 or any(b < 1 for b in batch_sizes):
        raise app.UsageError("--repeats and every --batch_sizes entry must be >= 1.")
    result = benchmark(_MODELS.value, batch_sizes, _REPEATS.value)
    if _KEEP.value and os.path.isfile(_OUT.value):
        provenance = common.provenance("benchmarks.serving_benchmark")
        result = common.with_other_rows(_OUT.value, result["rows"], ("model", "verb", "batch"), provenance)
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    atomic.write_json(_OUT.value, result, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
