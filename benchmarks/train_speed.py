r"""Training speed of the autoregressive models, side by side in one process, against a dense matmul.

    python -m benchmarks.train_speed [--repeats=15] [--batch_size=128]

For each model at its benchmark configuration (the registry's defaults: PixelCNN with 64 filters and 5
blocks, Gated PixelCNN with 32 filters, Row LSTM and Diagonal BiLSTM with hidden 32 and 2 layers, PixelCNN++
at the `tfd.PixelCNN` reference's size; all on the same binarized batch, so at 2 levels), plus the
Diagonal BiLSTM built from the old layers (`tests/zoo/pixel/pixel_rnn_reference.py`, the test oracle, so
old and new run on the same machine at the same moment), on one batch of binarized Fashion-MNIST:

- `step`: one `tf.function(model.train_step)` call (forward, backward, Adam update), its loss fetched;
- `matmul`: a 1024x1024 float32 matmul (`--matmul_calls` per round, their mean is one call), the machine's
  dense FLOP rate right now.

Every round calls every contender once, in turn (`common.interleaved_times`), so a burst of load from another
process slows a whole round alike; step time is the median over `--repeats` rounds, and each ratio to
PixelCNN is the median of the per-round ratios. Forward FLOPs per batch: `tf.compat.v1.profiler`'s
float-op count of the traced forward pass (`model(images)`; a masked convolution counts the taps it computes:
its kernel without the rows below the centre, and on a one-row kernel without the columns right of it), plus,
by hand, what runs inside a `tf.while_loop` (Row LSTM, and the old Diagonal BiLSTM), which the profiler does
not see: per step, the state-to-state product `2 * rows * inputs * 4 * hidden` (Row LSTM: rows = batch x
width, inputs = 3 taps x hidden; old Diagonal BiLSTM: rows = 2 directions x batch x height, inputs = 2 taps
x hidden, for all `height + width - 1` skewed columns, padding included). The new Diagonal BiLSTM is
unrolled, so the profiler sees all of it (it computes only the image's pixels).
Training FLOPs are taken as 3x forward (the backward pass of a product costs two products), so the share of
the matmul rate is `3 * forward FLOPs / step seconds / matmul FLOP rate`. `--xla` adds the new Diagonal
BiLSTM's step compiled with `tf.function(jit_compile=True)` (off by default: compiling the unrolled step
took more than 20 minutes on the shared 2-core machine).
Results go to `benchmarks/results/train_speed.json` with the load average before and after;
`python -m benchmarks.make_results` renders them (issue 16).
"""

import importlib.util
import json
import os
import statistics

import keras
import tensorflow as tf
from absl import app, flags

from benchmarks import common
from trainers import data, registry, train_lib
from zoo.pixel import DiagonalBiLSTM, RowLSTM
from zoo.utils import atomic

_MODELS = ("pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm", "pixel_cnn_pp")
OLD_DIAGONAL = "diagonal_bilstm_old_layers"
XLA_DIAGONAL = "diagonal_bilstm_xla"
_REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "zoo", "pixel",
                          "pixel_rnn_reference.py")

_REPEATS = flags.DEFINE_integer("repeats", 15, "Interleaved rounds; medians are reported.")
_BATCH = flags.DEFINE_integer("batch_size", 128, "Images per training step.")
_MATMUL_SIZE = flags.DEFINE_integer("matmul_size", 1024, "Side of the square float32 matmul of the FLOP-rate probe.")
_MATMUL_CALLS = flags.DEFINE_integer("matmul_calls", 20, "Matmuls per round (their mean is one call).")
_XLA = flags.DEFINE_bool(
    "xla", False, "Also time the new Diagonal BiLSTM's step compiled by XLA (jit_compile; compiling takes tens of minutes)."
)
_OUT = flags.DEFINE_string("out", "benchmarks/results/train_speed.json", "Result JSON.")


def _reference_module():
    """The old PixelRNN layers, loaded from the test suite where they are the oracle of the new ones."""
    spec = importlib.util.spec_from_file_location("pixel_rnn_reference", _REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(name, image_shape, num_levels):
    """A compiled model of `name` (a registered model, or OLD_DIAGONAL) with the registry's default kwargs."""
    spec = registry.get_spec("diagonal_bilstm" if name == OLD_DIAGONAL else name)
    model_class = _reference_module().DiagonalBiLSTM if name == OLD_DIAGONAL else spec.model_class()
    keras.utils.set_random_seed(0)
    model = model_class(image_shape=image_shape, num_levels=num_levels, **spec.model_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate))
    return model


def recurrent_flops(model, batch_size):
    """Forward FLOPs of the state-to-state products of a recurrence run in a while loop, counted by hand."""
    height, width, _ = model.image_shape
    if isinstance(model, RowLSTM):
        per_layer = height * 2 * (batch_size * width) * (3 * model.hidden) * (4 * model.hidden)
    elif isinstance(model, DiagonalBiLSTM):
        per_layer = (height + width - 1) * 2 * (2 * batch_size * height) * (2 * model.hidden) * (4 * model.hidden)
    else:
        return 0
    return model.num_layers * per_layer


def forward_flops(model, images):
    """`(profiled, by hand)`: float ops of the traced forward graph, and those of its while loops."""
    graph = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec(images.shape, images.dtype)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profiled = tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops
    loops = any(op.type in ("While", "StatelessWhile") for op in graph.get_operations())
    return int(profiled), int(recurrent_flops(model, int(images.shape[0]))) if loops else 0


def _matmul_probe(size, calls):
    a = tf.random.stateless_normal([size, size], seed=[0, 1])
    b = tf.random.stateless_normal([size, size], seed=[0, 2])
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[0]))
    return lambda: [float(matmul()) for _ in range(calls)]


def measure(repeats, batch_size, xla):
    """The result dict: per model step seconds, images/s, FLOPs, ratio to PixelCNN and share of the matmul rate."""
    prep = train_lib.TrainConfig(model="pixel_cnn", workdir="/tmp/unused").resolved().preprocessing()
    images, _ = data.example_batch("fashion_mnist", "train", prep, batch_size=batch_size)
    names = list(_MODELS) + [OLD_DIAGONAL]
    models = {name: build(name, tuple(images.shape[1:]), prep.num_levels) for name in names}
    steps = {name: tf.function(model.train_step) for name, model in models.items()}
    if xla:
        names.append(XLA_DIAGONAL)
        steps[XLA_DIAGONAL] = tf.function(models["diagonal_bilstm"].train_step, jit_compile=True)
    contenders = {name: (lambda step=steps[name]: float(step(images)["loss"])) for name in names}
    contenders["matmul"] = _matmul_probe(_MATMUL_SIZE.value, _MATMUL_CALLS.value)
    for fn in contenders.values():  # tracing and compilation, outside the clock
        fn()
    load_before = os.getloadavg()
    times = common.interleaved_times(contenders, repeats)
    load_after = os.getloadavg()

    matmul_seconds = statistics.median(times.pop("matmul")) / _MATMUL_CALLS.value
    matmul_rate = 2 * _MATMUL_SIZE.value**3 / matmul_seconds
    rows = []
    for name in names:
        profiled, by_hand = forward_flops(models["diagonal_bilstm" if name == XLA_DIAGONAL else name], images)
        seconds = statistics.median(times[name])
        rate = 3 * (profiled + by_hand) / seconds
        rows.append({
            "model": name,
            "config": models["diagonal_bilstm" if name == XLA_DIAGONAL else name].get_config(),
            "step_seconds": seconds,
            "step_seconds_all": times[name],
            "images_per_second": batch_size / seconds,
            "vs_pixel_cnn": statistics.median(t / p for t, p in zip(times[name], times["pixel_cnn"])),
            "forward_gflop": (profiled + by_hand) / 1e9,
            "forward_gflop_profiled": profiled / 1e9,
            "forward_gflop_recurrences_by_hand": by_hand / 1e9,
            "training_gflop_per_second": rate / 1e9,
            "share_of_matmul_rate": rate / matmul_rate,
        })
    return {
        "batch_size": batch_size,
        "repeats": repeats,
        "matmul_size": _MATMUL_SIZE.value,
        "matmul_gflop_per_second": matmul_rate / 1e9,
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "flops_counted": "forward: tf.compat.v1.profiler float ops of model(images) (masked kernels: the taps "
        "computed) plus, by hand, the state-to-state products inside while loops (Row LSTM; old Diagonal "
        "BiLSTM: every skewed column, padding included); training = 3x forward",
        "rows": rows,
    }


def main(argv):
    del argv
    result = {**measure(_REPEATS.value, _BATCH.value, _XLA.value), **common.provenance("benchmarks.train_speed")}
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    atomic.write_json(_OUT.value, result, indent=2)
    summary = {row["model"]: round(row["vs_pixel_cnn"], 2) for row in result["rows"]}
    print(json.dumps({"out": _OUT.value, "vs_pixel_cnn": summary, "load_average": result["load_average_after"]}))


if __name__ == "__main__":
    app.run(main)
