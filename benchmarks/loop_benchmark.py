r"""Overhead of our training loop, and whether training is ever input-bound.

    python -m benchmarks.loop_benchmark [--models=vae,dcgan,pixel_cnn] [--steps=30] [--repeats=5]

For each model, built and compiled exactly as `trainers.train_lib` does (registry defaults, batch 128, real
Fashion-MNIST batches cached in memory), three things are timed side by side, interleaved, several times.
Per-step times are the median interval between consecutive steps' ends, so the fixed cost of starting an
epoch (iterator, callbacks) is left out, as it is amortised over a real epoch, and a burst of load from
another process on a shared machine moves the median little:

- `fit`: `model.fit` on the batches with the trainer's per-batch callbacks (NaN guard, throughput);
- `bare`: a plain `tf.function` that applies the same `model.train_step` (the model's loss and optimizer
  updates) to the same batches in a Python loop, with no Keras machinery around it;
- `pipeline`: the trainer's `trainers.data.load` pipeline alone, built afresh in every repetition, timed from the
  `load` call: its first epoch as a new training process sees it, which reads the decoded split kept on disk
  (`trainers.data.records`) and fills the shuffle buffer; its second, a full shuffled epoch with preprocessing
  from memory (every epoch after the first); and, as "cold", the first epoch of `load(..., cache=False)`, which
  reads and decodes the TFDS records (what the very first use of a split costs, once per machine).

Goals (issue 7): `fit / bare <= 1.10` per step, and the pipeline delivers at least 5x the images per second that
training consumes. Results go to `benchmarks/results/loop.json`; `benchmarks.make_results` renders them.
"""

import json
import os
import statistics
import time

import keras
import tensorflow as tf
from absl import app, flags

from benchmarks import common
from trainers import callbacks as zoo_callbacks
from trainers import data, train_lib
from trainers.data import records
from zoo.utils import atomic

_MODELS = flags.DEFINE_list(
    "models",
    ["gan", "vae", "dcgan", "wgan_gp", "pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm", "pixel_cnn_pp",
     "cvae", "cdcgan", "cyclegan"],
    "Registered models to measure.",
)
_STEPS = flags.DEFINE_integer("steps", 30, "Training steps per timed repetition.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Interleaved repetitions; medians are reported.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/loop.json", "Result JSON.")
_KEEP = flags.DEFINE_bool(
    "keep_other_rows", False, "Keep --out's rows of the models not measured now (each new row records its command)."
)

_DATASET = "fashion_mnist"


def _epoch_images_per_second(ds, start=None):
    start, seen = time.perf_counter() if start is None else start, 0
    for batch in ds:
        seen += int((batch[0] if isinstance(batch, tuple) else batch).shape[0])
    return seen / (time.perf_counter() - start)


class _StepTimer(keras.callbacks.Callback):
    """Appends the wall time between consecutive training batches' ends to `intervals`."""

    def __init__(self, intervals):
        super().__init__()
        self.intervals, self._last = intervals, None

    def on_epoch_begin(self, epoch, logs=None):
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._last is not None:
            self.intervals.append(now - self._last)
        self._last = now


def _loader(cfg):
    """`load(cache=True)`, the trainer's training pipeline of resolved config `cfg`, built afresh at each call.

    `cache=False` decodes the TFDS records again. Unpaired models (CycleGAN) read their two domains from the
    decoded split whatever `cache` says: their cold start is the paired models' (it decodes the same split).
    """
    spec, prep = cfg.spec, cfg.preprocessing()
    if spec.unpaired:
        return lambda cache=True: data.load_unpaired(
            _DATASET, "train", prep, batch_size=cfg.batch_size, domains=cfg.domains, seed=0
        )
    return lambda cache=True: data.load(
        _DATASET, "train", prep, batch_size=cfg.batch_size, seed=0, with_labels=spec.conditional, cache=cache
    )


def measure(name, steps, repeats):
    cfg = train_lib.TrainConfig(model=name, workdir="/tmp/unused", verbose=0).resolved()
    spec, load = cfg.spec, _loader(cfg)
    batches = list(load().take(steps))
    tuples = isinstance(batches[0], tuple)  # (images, labels) or (images_a, images_b).
    shape = tuple(batches[0][0].shape[1:]) if tuples else data.image_shape(_DATASET)
    classes = data.num_classes(_DATASET) if spec.conditional else None
    keras.utils.set_random_seed(0)
    model = train_lib.build_model(cfg, shape, classes)
    cached = tf.data.Dataset.from_tensor_slices(
        tuple(tf.stack(part) for part in zip(*batches)) if tuples else tf.stack(batches)
    ).prefetch(2)

    bare_step = tf.function(model.train_step)
    fit_intervals, bare_intervals, first_rates, pipe_rates, cold_rates = [], [], [], [], []
    timer = _StepTimer(fit_intervals)

    def run_fit():
        model.fit(cached, epochs=1, verbose=0, shuffle=False,
                  callbacks=[zoo_callbacks.StopOnNaN(), zoo_callbacks.Throughput(cfg.batch_size), timer])

    def run_bare():
        last = None
        for batch in batches:
            logs = bare_step(batch)
            float(next(iter(logs.values())))  # What the trainer's NaN guard reads after every step.
            now = time.perf_counter()
            if last is not None:
                bare_intervals.append(now - last)
            last = now

    def run_pipeline():
        # The trainer's pipeline, new each time and as in a new process: epoch 1 reads the decoded split from disk.
        records.forget_decoded_in_memory()
        start = time.perf_counter()
        pipeline_ds = load()
        first_rates.append(_epoch_images_per_second(pipeline_ds, start))
        pipe_rates.append(_epoch_images_per_second(pipeline_ds))
        start = time.perf_counter()
        cold_rates.append(_epoch_images_per_second(load(cache=False), start))

    run_fit(), run_bare(), run_pipeline()  # Tracing and warm-up, outside the clock.
    del fit_intervals[:], bare_intervals[:], first_rates[:], pipe_rates[:], cold_rates[:]
    for _ in range(repeats):
        run_fit()
        run_bare()
        run_pipeline()
    fit_step, bare_step_s = statistics.median(fit_intervals), statistics.median(bare_intervals)
    consumed = cfg.batch_size / fit_step
    pipeline, first_epoch, cold = statistics.median(pipe_rates), statistics.median(first_rates), statistics.median(cold_rates)
    return {
        "model": name,
        "batch_size": cfg.batch_size,
        "steps": steps,
        "repeats": repeats,
        "fit_ms_per_step": 1000 * fit_step,
        "bare_ms_per_step": 1000 * bare_step_s,
        "fit_over_bare": fit_step / bare_step_s,
        "train_images_per_second": consumed,
        "pipeline_images_per_second": pipeline,
        "pipeline_first_epoch_images_per_second": first_epoch,
        "pipeline_over_training": pipeline / consumed,
        "pipeline_first_epoch_over_training": first_epoch / consumed,
        "pipeline_cold_first_epoch_images_per_second": cold,
        "pipeline_cold_first_epoch_over_training": cold / consumed,
    }


def main(argv):
    del argv
    rows = []
    for name in _MODELS.value:
        row = measure(name, _STEPS.value, _REPEATS.value)
        print(json.dumps(row), flush=True)
        rows.append(row)
    provenance = common.provenance("benchmarks.loop_benchmark")
    result = {
        "rows": rows,
        **provenance,
    }
    if _KEEP.value and os.path.isfile(_OUT.value):
        result = common.with_other_rows(_OUT.value, rows, "model", provenance)
    os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
    atomic.write_json(_OUT.value, result, indent=2, sort_keys=True)


if __name__ == "__main__":
    app.run(main)
