r"""Latency and throughput of `serving_default` through the exported SavedModel versus the Keras model in Python.

    python -m benchmarks.serving_benchmark [--models=dcgan,vae,pixel_cnn] [--batch_sizes=1,64] [--repeats=5]

For each model: the registry's default architecture for 28x28x1 Fashion-MNIST, freshly initialised (latency
does not depend on the weights' values, and this needs no training run), exported with
`export.saved_model.to_saved_model`, reloaded with `tf.saved_model.load`. Each repeat times, side by side,
one call of the reloaded `serving_default` signature (one seed per row) and one call of the Keras verb that
answers the same request, `model.sample(batch, seed=...)`; both are warmed up first. The medians over the
repeats are recorded, with throughput = batch / median latency. Results go to `benchmarks/results/serving.json`;
`python -m benchmarks.make_results` turns them into the markdown of `benchmarks/RESULTS.md`.
"""

import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

_MODELS = flags.DEFINE_list("models", ["dcgan", "vae", "pixel_cnn"], "Registered (unconditional) models to time.")
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1", "64"], "Rows per request.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per model, batch size and path.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/serving.json", "Where the result JSON goes.")

IMAGE_SHAPE = (28, 28, 1)


def build_default_model(name):
    """The registry's default model `name` for 28x28x1 images, freshly initialised with seed 0."""
    from trainers import registry

    spec = registry.get_spec(name)
    kwargs = dict(spec.model_kwargs)
    if spec.preprocessing == "levels":
        kwargs["num_levels"] = spec.num_levels
    return spec.model_class()(image_shape=IMAGE_SHAPE, seed=0, **kwargs)


def time_side_by_side(calls, repeats):
    """Median seconds of each zero-argument callable in `calls` (a dict), interleaved over `repeats` rounds."""
    for fn in calls.values():
        fn()  # Traces, and warms caches.
    times = {key: [] for key in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def benchmark(models, batch_sizes, repeats):
    """Times every model and batch size; returns the result dict written to serving.json."""
    from export import saved_model

    rows = []
    with tempfile.TemporaryDirectory() as base:
        for name in models:
            model = build_default_model(name)
            path = saved_model.to_saved_model(model, base, name)
            serving = tf.saved_model.load(path).signatures["serving_default"]
            for batch in batch_sizes:
                seeds = tf.constant(np.arange(batch), tf.int64)
                medians = time_side_by_side(
                    {
                        "keras": lambda: np.asarray(model.sample(batch, seed=0)),
                        "saved_model": lambda: serving(seed=seeds)["images_uint8"].numpy(),
                    },
                    repeats,
                )
                rows.append(
                    {
                        "model": name,
                        "family": saved_model.family(model),
                        "batch": batch,
                        "keras_ms": 1000 * medians["keras"],
                        "saved_model_ms": 1000 * medians["saved_model"],
                        "keras_images_per_s": batch / medians["keras"],
                        "saved_model_images_per_s": batch / medians["saved_model"],
                        "repeats": repeats,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return {
        "benchmark": "serving",
        "command": "python -m benchmarks.serving_benchmark " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "weights": "freshly initialised registry defaults (28x28x1); latency does not depend on weight values",
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
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(_OUT.value + ".tmp", _OUT.value)
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
