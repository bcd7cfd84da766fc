"""`tf.distribute` for the trainers: one name picks the strategy; helpers feed it data and find the chief.

    default       one device (TensorFlow's default strategy)
    mirrored      `tf.distribute.MirroredStrategy`: every local GPU (or the CPU), one replica each
    multi_worker  `tf.distribute.MultiWorkerMirroredStrategy`: the machines of `TF_CONFIG`, all-reduce over gRPC
    tpu           `tf.distribute.TPUStrategy`: the cores of a Cloud TPU

The batch size of a run is always the global one: each of the `num_replicas_in_sync` replicas gets an equal
part of every batch. Across workers the input is sharded by data (`shard_by_data`), so every step sees the
same examples whatever the number of workers and replicas.

Example:
    >>> strategy = make_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = build_and_compile()   # variables and optimizer state are mirrored
    >>> model.fit(shard_by_data(dataset_of_global_batches), epochs=5)
"""

import json
import os

import keras
import tensorflow as tf

from trainers import keras_internals

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


class StrategyUnavailableError(RuntimeError):
    """The requested strategy cannot run here (no TPU found, no cluster to join)."""


_STRATEGY_CACHE = {}


def make_strategy(name, tpu=None):
    """The `tf.distribute` strategy called `name`, created once per process.

    `multi_worker` must be created before TensorFlow runs any operation (TensorFlow configures its collective
    ops when the strategy is created), so call this first. Later calls with the same arguments return the same
    strategy ("default" is the current one): TensorFlow expects one per program, and a second
    `MirroredStrategy` in the same process reuses the collective-op keys of the first, so training another
    model on it fails with a shape mismatch.

    Args:
        name: one of `STRATEGIES`.
        tpu: for "tpu": the TPU's name or `grpc://` address; None reads `TPU_NAME`, else "local" (the TPU
            attached to a Cloud TPU VM).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: an unknown name, or `multi_worker` without a valid `TF_CONFIG`.
        StrategyUnavailableError: no TPU could be initialised.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}; got {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    key = (name, tpu)
    if key not in _STRATEGY_CACHE:
        _STRATEGY_CACHE[key] = _create_strategy(name, tpu)
    return _STRATEGY_CACHE[key]


def _create_strategy(name, tpu):
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        cluster_from_tf_config()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _reduce_scalar_logs_across_workers()
        return strategy
    return _tpu_strategy(tpu or os.environ.get("TPU_NAME") or "local")


def cluster_from_tf_config():
    """The `(cluster, task)` of the `TF_CONFIG` environment variable, checked.

    `TF_CONFIG` is the JSON every worker of a multi-worker run gets, the same cluster on each and its own task:

        {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}

    Raises:
        ValueError: `TF_CONFIG` is missing, not JSON, or has no workers or no valid task.
    """
    raw = os.environ.get("TF_CONFIG")
    example = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
    if not raw:
        raise ValueError(
            "strategy='multi_worker' reads the cluster from the TF_CONFIG environment variable, which is not set. "
            f"Set it on every worker, with its own task index, e.g. TF_CONFIG='{example}'."
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        jobs = {job: list(addresses) for job, addresses in cluster.items()}
        task_type, index = task["type"], task["index"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"TF_CONFIG must be JSON like {example}; got {raw!r} ({type(e).__name__}: {e}).") from None
    if not jobs.get("worker") and not jobs.get("chief"):
        raise ValueError(f"TF_CONFIG's cluster must list its workers (a 'worker' job); got {cluster!r}.")
    if task_type not in jobs or not isinstance(index, int) or not 0 <= index < len(jobs[task_type]):
        raise ValueError(f"TF_CONFIG's task must name a job of the cluster and an index in it; got task={task!r}.")
    return jobs, {"type": task_type, "index": index}


def _tpu_strategy(address):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        if address != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise StrategyUnavailableError(
            f"strategy='tpu' found no TPU at tpu={address!r} ({type(e).__name__}: {first_line[:200]}). On a Cloud "
            "TPU VM use --tpu=local; elsewhere pass the TPU's name or grpc:// address (--tpu, or TPU_NAME)."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """Whether this process writes the run's files: always on one machine; the chief of a multi-worker run."""
    return bool(strategy.extended.should_checkpoint)


def check_batch_size(batch_size, strategy):
    """Raises a `ValueError` unless the global `batch_size` splits evenly over the strategy's replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"`batch_size` is the global batch and must be divisible by the {replicas} replicas of the strategy; "
            f"got {batch_size}. Use a multiple of {replicas}."
        )


def shard_by_data(dataset):
    """`dataset` (of global batches) set to be split by data when Keras distributes it over workers.

    Under `multi_worker` (and a multi-host TPU) Keras hands the dataset to `strategy.experimental_distribute_dataset`,
    whose default auto-sharding splits by file and fails when a split has fewer files than there are workers
    (Fashion-MNIST has one per split). Sharding by data, every worker runs the same seeded pipeline and keeps
    its replicas' slices of each global batch: a step sees exactly the examples of the same step on one
    device, and a last partial batch of an evaluation is split too. On one machine the option has no effect.

    Args:
        dataset: a `tf.data.Dataset` of global batches, deterministic given its seed.

    Returns:
        The same dataset with `auto_shard_policy = DATA`.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _reduce_scalar_logs_across_workers():
    """Makes Keras 3's `fit` and `evaluate` work under a multi-worker `MultiWorkerMirroredStrategy`.

    Keras averages the logs of a step over workers with `strategy.reduce("MEAN", value, axis=0)`, which fails
    on the scalar logs every model returns ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388). This wraps that one function of Keras's TensorFlow trainer so scalars are
    averaged over the replicas only (`axis=None`); everything else goes through Keras's own code unchanged.
    Written for Keras 3.15: on another version it raises a `RuntimeError` (`keras_internals`).
    """
    keras_internals.check_keras_version("strategy='multi_worker' (its reduction of scalar logs across workers)")
    from keras.src.backend.tensorflow import trainer as tf_trainer

    keras_reduce = tf_trainer.reduce_per_replica
    if getattr(keras_reduce, "scalar_logs_across_workers", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):

            def mean(value):
                rank = strategy.experimental_local_results(value)[0].shape.rank
                return strategy.reduce("MEAN", value, axis=None if rank == 0 else 0)

            return keras.tree.map_structure(mean, values)
        return keras_reduce(values, strategy, reduction)

    reduce_per_replica.scalar_logs_across_workers = True
    tf_trainer.reduce_per_replica = reduce_per_replica
