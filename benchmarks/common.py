"""What every benchmark result records about where and how it was made."""

import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import time

import keras
import tensorflow as tf


#: Environment variables that change how fast a run goes; a command records those that are set.
SPEED_ENVIRONMENT = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def provenance(module):
    """The command that reproduces this run of `module` (e.g. "benchmarks.loop_benchmark"), date and machine.

    The command starts with the `SPEED_ENVIRONMENT` variables that are set (two long runs sharing the two
    cores run with one thread each), so a wall time is read with the threads it had.
    """
    environment = [f"{name}={os.environ[name]}" for name in SPEED_ENVIRONMENT if name in os.environ]
    return {
        "benchmark_command": " ".join(environment + [f"python -m {module}"] + sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def with_other_rows(path, rows, key, provenance):
    """The result dict of `rows` measured now, plus the rows of `path` (an earlier result) for other `key`s.

    Lets one benchmark add a model measured later (or trained elsewhere) to its result file: each new row
    records its own command and date, the file keeps the provenance of its first command. `key`: the field
    that names a row, or a tuple of fields (e.g. model, verb and batch size).
    """
    with open(path) as f:
        previous = json.load(f)
    fields = (key,) if isinstance(key, str) else tuple(key)
    row_name = lambda row: tuple(row[field] for field in fields)
    measured = {row_name(row) for row in rows}
    new_rows = [{**row, "benchmark_command": provenance["benchmark_command"], "date": provenance["date"]} for row in rows]
    return {
        **previous,
        "rows": [row for row in previous["rows"] if row_name(row) not in measured] + new_rows,
        **{name: previous[name] for name in provenance},
    }


def train_or_reuse(config, reuse):
    """Trains `config` (a `trainers.train_lib.TrainConfig`) and returns `(metrics, wall seconds)`.

    With `reuse` and a finished run in its work directory, returns that run's `metrics.json` and None instead.
    """
    from trainers import train_lib

    metrics_path = os.path.join(config.workdir, "metrics.json")
    if reuse and os.path.isfile(metrics_path):
        with open(metrics_path) as f:
            return json.load(f), None
    start = time.perf_counter()
    metrics = train_lib.train_and_evaluate(config)
    return metrics, time.perf_counter() - start


def median_seconds(fn, repeats):
    """Median wall seconds of `repeats` calls of `fn` after one untimed warm-up call (tracing); outputs are
    fetched (`np.asarray`) inside the timing, so asynchronous work is counted."""
    import numpy as np

    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns, repeats):
    """Wall seconds of each of `fns` (a dict of callables) over `repeats` rounds that call every one in turn.

    On a shared machine a burst of load then slows every contender of a round alike, so their ratios hold.
    Outputs are fetched (`np.asarray`) inside the timing. Returns `{name: [seconds per round]}`.
    """
    import numpy as np

    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            np.asarray(fn())
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(fns, repeats):
    """Median seconds of each of `fns` over `repeats` interleaved rounds (see `interleaved_times`)."""
    return {name: statistics.median(values) for name, values in interleaved_times(fns, repeats).items()}


def tfd_train_step(dist, optimizer, images):
    """One step of `optimizer` on the mean NLL (dropout on) of `dist` (a `tfd.PixelCNN`) over int `images`.

    Call it inside a `tf.function(autograph=False)`: there is no tensor-dependent Python control flow here, and
    without AutoGraph, editing the file while a long run is still tracing cannot make it convert the wrong lines.
    """
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(tf.cast(images, tf.float32), training=True))
    variables = dist.network.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss


class PolyakAverage:
    """Exponential moving averages of a model's variables, for scoring the averaged weights.

    Polyak averaging (Polyak & Juditsky, 1992) as PixelCNN++ trains with it (Salimans et al., 2017, momentum
    0.9995): after every optimizer step `update()` sets each average to `momentum * average + (1 - momentum) *
    variable`; `swapped()` puts the averages into the variables for the length of a `with` block. The averages
    start at the variables' values when this is made (or at `reset()`). `state` (the averages and `steps`, the
    updates since they started) is what a `tf.train.Checkpoint` saves and restores.

    Args:
        variables: the variables to average (Keras 3 or `tf.Variable`s), e.g. `model.trainable_variables`.
        momentum: weight of the old average, in (0, 1).

    Example:
        average = PolyakAverage(model.trainable_variables, 0.999)
        checkpoint = tf.train.Checkpoint(model=model, average=average.state)
        for images in batches:
            train_step(images)
            average.update()
        with average.swapped():
            nll = -model.log_prob(test_images)
    """

    def __init__(self, variables, momentum):
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"momentum must be in (0, 1); got {momentum!r}.")
        self.momentum = float(momentum)
        self._variables = list(variables)
        self.state = tf.Module()
        self.state.averages = [tf.Variable(tf.convert_to_tensor(v), trainable=False) for v in self._variables]
        self.state.steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._update = tf.function(self._update_eagerly, autograph=False)

    @property
    def averages(self):
        """The averages, one `tf.Variable` per averaged variable, in order."""
        return list(self.state.averages)

    @property
    def steps(self):
        """`update()`s since the averages started (an int64 `tf.Variable`)."""
        return self.state.steps

    def _update_eagerly(self):
        for average, variable in zip(self.state.averages, self._variables):
            average.assign(self.momentum * average + (1.0 - self.momentum) * tf.convert_to_tensor(variable))
        self.state.steps.assign_add(1)

    def update(self):
        """Moves every average one step towards its variable."""
        self._update()

    def reset(self):
        """Restarts the averages at the variables' current values (e.g. after restoring an older checkpoint)."""
        for average, variable in zip(self.state.averages, self._variables):
            average.assign(tf.convert_to_tensor(variable))
        self.state.steps.assign(0)

    @contextlib.contextmanager
    def swapped(self):
        """A `with` block in which the variables hold their averages; their own values come back after it."""
        own = [tf.convert_to_tensor(v) for v in self._variables]
        for variable, average in zip(self._variables, self.state.averages):
            variable.assign(average)
        try:
            yield
        finally:
            for variable, value in zip(self._variables, own):
                variable.assign(value)
