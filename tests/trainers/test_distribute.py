"""`tf.distribute` training: one step of every family is the same on one device and on two replicas, two
worker processes train in lockstep and survive a killed worker, and the strategy flags fail clearly.

Logical devices and `TF_CONFIG` must be set before TensorFlow initialises, so the distributed checks run in
fresh interpreters (bounded by timeouts, killed on failure); everything else runs in-process.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from trainers import callbacks, distribute

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ENV = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join([_ROOT, os.environ.get("PYTHONPATH", "")]),
    TF_CPP_MIN_LOG_LEVEL="2",
    CUDA_VISIBLE_DEVICES="",
)

# One SGD step of each family on one device and under MirroredStrategy over two logical CPUs, from the same
# weights and the same global batch. SGD, not Adam: Adam's first step is about lr * sign(gradient), blind to a
# gradient scaled by the number of replicas.
_ONE_STEP_SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    import numpy as np

    from zoo import ops
    from zoo.classifier.feature_classifier import FeatureClassifier
    from zoo.gan import DCGAN, GAN
    from zoo.pixel.pixel_cnn import PixelCNN
    from zoo.pixel.pixel_cnn_pp import PixelCNNPlusPlus
    from zoo.vae.vae import VAE

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    B = 8
    levels = rng.integers(0, 2, (B, 8, 8, 1)).astype("int32")
    symmetric = rng.uniform(-1, 1, (B, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 3, (B,)).astype("int32")
    grouped = rng.uniform(-1, 1, (B, 2, 8, 8, 1)).astype("float32")  # A fresh real minibatch per D step.
    grouped_labels = rng.integers(0, 3, (B, 2)).astype("int32")

    def sgd():
        return keras.optimizers.SGD(0.1)

    families = {
        "vae": (lambda: VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(4,), seed=0),
                lambda m: m.compile(optimizer=sgd()), (levels,)),
        "conditional_gan": (lambda: GAN(image_shape=(8, 8, 1), num_classes=3, latent_dim=3, hidden_units=(8,), seed=0),
                            lambda m: m.compile(d_optimizer=sgd(), g_optimizer=sgd()), (symmetric, labels)),
        "dcgan": (lambda: DCGAN(image_shape=(8, 8, 1), latent_dim=3, filters=8, d_steps=2, seed=0),
                  lambda m: m.compile(d_optimizer=sgd(), g_optimizer=sgd()), (symmetric,)),
        "fresh_batches_gan": (lambda: GAN(image_shape=(8, 8, 1), num_classes=3, latent_dim=3, hidden_units=(8,),
                                          d_steps=2, fresh_real_batches=True, seed=0),
                              lambda m: m.compile(d_optimizer=sgd(), g_optimizer=sgd()), (grouped, grouped_labels)),
        "wgan_gp": (lambda: DCGAN(image_shape=(8, 8, 1), latent_dim=3, filters=8, d_steps=2,
                                  discriminator_norm="layer", seed=0),
                    lambda m: m.compile(d_optimizer=sgd(), g_optimizer=sgd(), loss="wasserstein"), (symmetric,)),
        "pixel_cnn": (lambda: PixelCNN(image_shape=(8, 8, 1), filters=4, num_blocks=1, output_filters=4),
                      lambda m: m.compile(optimizer=sgd()), (levels,)),
        "weight_normalised_pixel_cnn_pp": (
            lambda: PixelCNNPlusPlus(image_shape=(8, 8, 1), num_levels=2, num_resnet=1, num_hierarchies=1,
                                     num_filters=4, num_logistic_mix=2, dropout_p=0.0, weight_norm=True),
            lambda m: m.compile(optimizer=sgd()), (levels,)),
        "classifier": (lambda: FeatureClassifier(image_shape=(8, 8, 1), num_classes=3, filters=(4,), feature_dim=8,
                                                 dropout=0.0),
                       lambda m: m.compile(optimizer=sgd(), metrics=["accuracy"],
                                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
                       ((symmetric + 1) / 2, labels)),
    }

    results = {}
    for name, (make, compile_, data) in families.items():
        keras.utils.set_random_seed(0)
        single = make()
        compile_(single)
        with strategy.scope():
            mirrored = make()
            compile_(mirrored)
        mirrored.set_weights(single.get_weights())
        if getattr(single, "data_dependent_init", False):  # From the global batch, in the strategy's variables.
            single.initialize_from_data(*data)
            mirrored.initialize_from_data(*data)
        initial = single.get_weights()
        logs = {}
        for key, model in (("single", single), ("mirrored", mirrored)):
            history = model.fit(*data, batch_size=B, epochs=1, shuffle=False, verbose=0).history
            logs[key] = {k: float(v[-1]) for k, v in history.items()}
        a, b = single.get_weights(), mirrored.get_weights()
        results[name] = {
            "max_weight_difference": max(float(np.max(np.abs(x - y))) for x, y in zip(a, b)),
            "max_relative_difference": max(
                float(np.max(np.abs(x - y) / (np.abs(x) + 1e-3))) for x, y in zip(a, b)
            ),
            "max_update": max(float(np.max(np.abs(x - y))) for x, y in zip(initial, a)),
            "logs": logs,
            "iterations": {k: int(getattr(mirrored, k).iterations.numpy())
                           for k in ("d_optimizer", "g_optimizer") if hasattr(mirrored, k)},
        }

    # The noise of the two replicas is the single device's noise for the whole batch, split in two.
    seed = tf.constant([3, 4])
    draw = lambda n: tf.random.stateless_normal([n, 5], seed=seed)
    per_replica = strategy.experimental_local_results(
        strategy.run(tf.function(lambda: ops.per_example_noise(draw, 4)))
    )
    results["noise"] = {
        "replicas_differ": not np.array_equal(per_replica[0].numpy(), per_replica[1].numpy()),
        "equals_single_device": bool(np.array_equal(np.concatenate([r.numpy() for r in per_replica]),
                                                    ops.per_example_noise(draw, 8).numpy())),
    }
    print("RESULTS" + json.dumps(results))
    """
)


def _run_script(script, timeout):
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_ENV, timeout=timeout)
    assert run.returncode == 0, run.stderr[-4000:]
    line = next(line for line in run.stdout.splitlines() if line.startswith("RESULTS"))
    return json.loads(line[len("RESULTS"):])


@pytest.mark.slow  # A fresh TensorFlow process with two logical CPUs.
def test_one_step_of_every_family_is_the_same_on_one_device_and_on_two_replicas():
    results = _run_script(_ONE_STEP_SCRIPT, timeout=300)
    print(json.dumps({k: v.get("max_weight_difference") for k, v in results.items() if k != "noise"}))
    for family in ("vae", "conditional_gan", "dcgan", "fresh_batches_gan", "wgan_gp", "pixel_cnn",
                   "weight_normalised_pixel_cnn_pp", "classifier"):
        result = results[family]
        assert result["max_update"] > 1e-3, f"{family}: the step must move the weights for the check to mean anything"
        # Averaging over each replica's half batch instead of the global batch would double the SGD update.
        assert result["max_relative_difference"] < 1e-4, (family, result)
        single, mirrored = result["logs"]["single"], result["logs"]["mirrored"]
        assert single.keys() == mirrored.keys()
        for key in single:
            assert mirrored[key] == pytest.approx(single[key], rel=1e-4, abs=1e-5), (family, key)
    # k = 2 discriminator steps per generator step, counted once on the mirrored optimizers.
    assert results["wgan_gp"]["iterations"] == {"d_optimizer": 2, "g_optimizer": 1}
    assert results["fresh_batches_gan"]["iterations"] == {"d_optimizer": 2, "g_optimizer": 1}
    assert results["noise"] == {"replicas_differ": True, "equals_single_device": True}


# One worker of a multi-worker run: `train_and_evaluate` with TF_CONFIG set from the arguments, then its final
# weights to worker_<index>.npy beside the workdir. Each batch is slowed down so the test can kill it mid-epoch.
_WORKER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    workdir, index, ports, epochs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"localhost:{port}" for port in ports]}, "task": {"type": "worker", "index": index},
    })
    import numpy as np
    from trainers import callbacks, train_lib

    built = []
    build_model = train_lib.build_model
    train_lib.build_model = lambda *args: built.append(build_model(*args)) or built[-1]
    callbacks.Throughput.on_train_batch_begin = lambda self, batch, logs=None: time.sleep(0.25)
    config = train_lib.TrainConfig(
        model="vae", workdir=workdir, epochs=epochs, steps_per_epoch=6, batch_size=8, learning_rate=3e-3,
        train_take=256, eval_take=20, num_grid_samples=0, strategy="multi_worker", verbose=0,
        model_kwargs={"latent_dim": 2, "filters": [4, 8]},
    )
    metrics = train_lib.train_and_evaluate(config)
    weights = np.concatenate([w.ravel() for w in built[0].get_weights()])
    np.save(os.path.join(os.path.dirname(workdir), f"worker_{index}.npy"), weights)
    print("RESULTS" + json.dumps(metrics))
    """
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(workdir, epochs, log_dir, attempt):
    ports = ",".join(str(p) for p in _free_ports(2))
    workers = []
    for index in range(2):
        command = [sys.executable, "-c", _WORKER_SCRIPT, workdir, str(index), ports, str(epochs)]
        with open(os.path.join(log_dir, f"{attempt}_worker_{index}.log"), "w") as log:
            workers.append(subprocess.Popen(command, env=_ENV, stdout=log, stderr=subprocess.STDOUT))
    return workers


def _saved_epoch(workdir):
    return callbacks.backed_up_epoch(os.path.join(workdir, "backup"))


def _wait(process, timeout):
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


@pytest.mark.slow  # Two pairs of TensorFlow worker processes on loopback.
def test_two_workers_survive_a_killed_worker_and_end_with_identical_weights(tmp_path):
    workdir, logs = str(tmp_path / "run"), str(tmp_path)
    workers = _start_workers(workdir, epochs=2, log_dir=logs, attempt="first")
    try:
        first_checkpoint = os.path.join(workdir, "checkpoints", "epoch_0001.keras")
        deadline = time.time() + 240
        while not os.path.exists(first_checkpoint) and time.time() < deadline:
            assert all(w.poll() is None for w in workers), open(os.path.join(logs, "first_worker_0.log")).read()[-3000:]
            time.sleep(0.05)
        time.sleep(0.4)  # Into the second epoch: its 6 batches take at least 1.5 s.
        workers[1].send_signal(signal.SIGKILL)
        assert workers[1].wait(timeout=30) == -signal.SIGKILL
        # The chief's next all-reduce finds its peer gone and fails rather than hang; the job restarts as a whole.
        assert _wait(workers[0], timeout=60) not in (0, None)
        assert _saved_epoch(workdir) == 1, "the kill must land in the second epoch"
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    workers = _start_workers(workdir, epochs=2, log_dir=logs, attempt="rerun")
    try:
        codes = [_wait(w, timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert codes == [0, 0], open(os.path.join(logs, "rerun_worker_0.log")).read()[-3000:]

    with open(os.path.join(workdir, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["resumed_from_epoch"] == 1 and metrics["resumed_from"] == "latest backup"
    assert metrics["num_replicas"] == 2 and metrics["checkpoint_problems"] == []
    with open(os.path.join(workdir, "history.csv")) as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1]  # None repeated, none lost.
    first, second = np.load(tmp_path / "worker_0.npy"), np.load(tmp_path / "worker_1.npy")
    np.testing.assert_array_equal(first, second)
    # Only the chief wrote, once per epoch, and left no temporary files.
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["epoch_0001.keras", "epoch_0002.keras"]
    assert not [name for name in os.listdir(os.path.join(workdir, "backup")) if "tmp" in name]


def test_multi_worker_needs_a_valid_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG environment variable, which is not set"):
        distribute.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        distribute.make_strategy("multi_worker")
    cluster = {"worker": ["localhost:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ValueError, match="task must name a job of the cluster"):
        distribute.make_strategy("multi_worker")
    cluster = {"ps": ["localhost:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "ps", "index": 0}}))
    with pytest.raises(ValueError, match="must list its workers"):
        distribute.make_strategy("multi_worker")


def test_tpu_strategy_without_a_tpu_is_a_clear_error():
    # The TPU path itself cannot run here; without a TPU it must fail with the flags to fix, not a stack trace.
    with pytest.raises(distribute.StrategyUnavailableError, match="found no TPU at tpu='local'.*--tpu=local"):
        distribute.make_strategy("tpu", tpu="local")


@pytest.mark.slow  # XLA compilation of three training steps.
def test_the_training_steps_compile_with_xla_as_a_tpu_requires():
    # TPUStrategy runs every step as one XLA computation. No TPU here, but the compilation itself can be checked:
    # the VAE's TFP terms, the WGAN-GP double backward pass with k = 2 critic steps, PixelCNN's masked convolutions.
    import keras

    from zoo.gan import DCGAN
    from zoo.pixel.pixel_cnn import PixelCNN
    from zoo.vae.vae import VAE

    rng = np.random.default_rng(0)
    levels = rng.integers(0, 2, (8, 8, 8, 1)).astype("int32")
    symmetric = rng.uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    vae = VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(4,), seed=0)
    vae.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True)
    wgan = DCGAN(image_shape=(8, 8, 1), latent_dim=3, filters=8, d_steps=2, discriminator_norm="layer", seed=0)
    wgan.compile(loss="wasserstein", jit_compile=True)
    pixel_cnn = PixelCNN(image_shape=(8, 8, 1), filters=4, num_blocks=1, output_filters=4)
    pixel_cnn.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True)
    for model, images in ((vae, levels), (wgan, symmetric), (pixel_cnn, levels)):
        before = model.get_weights()
        logs = model.fit(images, batch_size=8, epochs=1, verbose=0).history
        assert all(np.isfinite(value[-1]) for value in logs.values()), (type(model).__name__, logs)
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert (int(wgan.d_optimizer.iterations), int(wgan.g_optimizer.iterations)) == (2, 1)


def test_a_strategy_is_created_once_per_process():
    # A second MirroredStrategy would reuse the first one's collective keys: the next model's all-reduce fails.
    assert distribute.make_strategy("mirrored") is distribute.make_strategy("mirrored")
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    assert distribute.is_chief(distribute.make_strategy("mirrored"))


def test_unknown_strategy_and_uneven_global_batch_are_refused():
    with pytest.raises(ValueError, match="strategy"):
        distribute.make_strategy("parameter_server")

    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match="divisible by the 2 replicas"):
        distribute.check_batch_size(15, TwoReplicas())
    distribute.check_batch_size(16, TwoReplicas())


def test_shard_by_data_sets_the_auto_shard_policy():
    ds = distribute.shard_by_data(tf.data.Dataset.range(4).batch(2))
    assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA
    assert list(ds.as_numpy_iterator())[0].tolist() == [0, 1]
