r"""Cached versus naive autoregressive sampling, side by side, with one forward pass as the cost floor.

    python -m benchmarks.sampling_benchmark [--runs=pixel_cnn,gated_pixel_cnn] [--batch_sizes=16,64]

For each trained benchmark run (`runs/bench/<run>/model.keras`, made by `benchmarks.train_benchmark`) and
each batch size, in one process and on the same weights and seed:

- `forward`: one pass of the network over a batch of images (`model(images)` in a `tf.function`), the cost
  floor of any sampler, which needs at least the work of one pass;
- `cached`: `model.sample(batch, seed, method="cached")`;
- `naive`: `model.sample(batch, seed, method="naive")`, one full network pass per sub-pixel, median of
  `--naive_repeats` (one by default: it is the slow reference).

`forward` (`--forward_repeats` passes in a row) and `cached` alternate for `--repeats` rounds and their
medians are kept, so a burst of load from another process slows both alike. Both samplers are traced on
other batch sizes first, so no time includes tracing. The two samples are
compared image by image: the cached sampler must return the naive one's images for the same seed.
Goals (issue 9): at batch 64, cached at least 25x faster than naive and within 10 forward passes. Results go
to `benchmarks/results/sampling.json`; `python -m benchmarks.make_results` renders them.
"""

import json
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import common
from trainers import registry
from zoo.utils import atomic

_RUNS = flags.DEFINE_list(
    "runs", ["pixel_cnn", "gated_pixel_cnn", "pixel_cnn_256levels", "row_lstm", "diagonal_bilstm"],
    "Benchmark runs (directories of --root with a model.keras) to time.",
)
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["16", "64"], "Images per sample call.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Rounds of timed cached calls and forward passes per run and batch size.")
_NAIVE_REPEATS = flags.DEFINE_integer("naive_repeats", 1, "Timed naive calls per run and batch size.")
_FORWARD_REPEATS = flags.DEFINE_integer("forward_repeats", 5, "Forward passes per round (their mean is one pass).")
_ROOT = flags.DEFINE_string("root", "runs/bench", "Directory of the trained benchmark runs.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/sampling.json", "Result JSON.")
_KEEP = flags.DEFINE_bool(
    "keep_other_rows", False,
    "Keep the rows of --out's other runs (each new row records its own command and date), to add a run "
    "trained elsewhere, e.g. --root=runs/quality --runs=pixel_cnn_pp_256levels --keep_other_rows.",
)


def _seconds(fn):
    start = time.perf_counter()
    np.asarray(fn())
    return time.perf_counter() - start


def _load(run):
    path = os.path.join(_ROOT.value, run, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No trained model at {path}: run `python -m benchmarks.train_benchmark` first.")
    for spec in registry.MODELS.values():
        spec.model_class()  # imports, hence registers, every zoo class for deserialization
    return keras.models.load_model(path)


def measure(run, batch_sizes):
    """Rows of {run, batch, forward/cached/naive seconds, ratios, identical images} for one trained run."""
    model = _load(run)
    labels_for = lambda n: np.arange(n) % model.num_classes if model.num_classes else None
    sample = lambda n, method: model.sample(n, seed=0, labels=labels_for(n), method=method)
    forward = tf.function(lambda images: model(images))
    for warmup in (1, 2):  # a second shape makes the traced loops shape-generic (reduce_retracing)
        for method in ("cached", "naive"):
            sample(warmup, method)
    rows = []
    for batch in batch_sizes:
        images = tf.zeros((batch,) + model.image_shape, tf.int32)
        inputs = (images, tf.constant(labels_for(batch), tf.int32)) if model.num_classes else images
        forward(inputs)
        # Several forward passes per round, as one is much shorter than a cached sample.
        forwards = lambda: [forward(inputs) for _ in range(_FORWARD_REPEATS.value)][-1]
        medians = common.interleaved_medians({"forward": forwards, "cached": lambda: sample(batch, "cached")}, _REPEATS.value)
        forward_s, cached_s = medians["forward"] / _FORWARD_REPEATS.value, medians["cached"]
        naive_s = statistics.median(_seconds(lambda: sample(batch, "naive")) for _ in range(_NAIVE_REPEATS.value))
        cached, naive = sample(batch, "cached").numpy(), sample(batch, "naive").numpy()
        same = (cached == naive).reshape(batch, -1).all(axis=1)
        rows.append(
            {
                "run": run,
                "model": type(model).__name__,
                "num_levels": model.num_levels,
                "parameters": int(model.count_params()),
                "batch": batch,
                "forward_seconds": forward_s,
                "cached_seconds": cached_s,
                "naive_seconds": naive_s,
                "speedup": naive_s / cached_s,
                "cached_in_forward_passes": cached_s / forward_s,
                "identical_images": int(same.sum()),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv):
    del argv
    batch_sizes = [int(b) for b in _BATCH_SIZES.value]
    rows = [row for run in _RUNS.value for row in measure(run, batch_sizes)]
    provenance = common.provenance("benchmarks.sampling_benchmark")
    result = {
        "rows": rows,
        "repeats": {"cached": _REPEATS.value, "naive": _NAIVE_REPEATS.value, "forward": _FORWARD_REPEATS.value},
        **provenance,
    }
    if _KEEP.value and os.path.isfile(_OUT.value):
        result = common.with_other_rows(_OUT.value, rows, "run", provenance)
    os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
    atomic.write_json(_OUT.value, result, indent=2, sort_keys=True)
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
    app.run(main)
