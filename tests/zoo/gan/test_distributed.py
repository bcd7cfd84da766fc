"""The two-player step under `tf.distribute.MirroredStrategy` on two logical CPUs.

Logical devices must be configured before TensorFlow initialises, so the check runs in a fresh interpreter.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

_SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    import numpy as np

    from zoo.gan import DCGAN, GAN

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    images = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype("float32")

    def make():
        model = GAN(image_shape=(8, 8, 1), latent_dim=3, hidden_units=(8, 8), seed=0)
        model.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.5))
        return model

    single = make()
    # A zero output kernel makes the fakes tanh(bias), whatever the noise: the discriminator's update is then
    # a function of the batch alone, so one device and two replicas must agree exactly.
    last = single.generator.layers[-2]
    last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
    last.bias.assign(np.random.default_rng(1).uniform(-1, 1, last.bias.shape).astype("float32"))
    with strategy.scope():
        mirrored = make()
    mirrored.set_weights(single.get_weights())
    results = {"initial": [w.tolist() for w in single.discriminator.get_weights()]}
    for name, model in (("single", single), ("mirrored", mirrored)):
        logs = model.fit(images, batch_size=16, epochs=1, shuffle=False, verbose=0).history
        results[name] = {
            "d_loss": logs["d_loss"][-1],
            "discriminator": [w.tolist() for w in model.discriminator.get_weights()],
            "generator_bias": model.generator.layers[-2].bias.numpy().tolist(),
        }

    @tf.function
    def draw():
        return strategy.run(lambda: mirrored._noise(4))

    noise = strategy.experimental_local_results(draw())
    results["replica_noise_differs"] = not np.array_equal(noise[0].numpy(), noise[1].numpy())

    with strategy.scope():
        wgan = DCGAN(image_shape=(8, 8, 1), latent_dim=3, filters=8, d_steps=2, discriminator_norm="layer", seed=0)
        wgan.compile(loss="wasserstein")
    logs = wgan.fit(images, batch_size=8, epochs=1, verbose=0).history
    results["wgan"] = {
        "finite": bool(all(np.isfinite(v[-1]) for v in logs.values())),
        "d_iterations": int(wgan.d_optimizer.iterations.numpy()),
        "g_iterations": int(wgan.g_optimizer.iterations.numpy()),
    }
    print("RESULTS" + json.dumps(results))
    """
)


@pytest.mark.slow  # A fresh TensorFlow process: about 14 s on two cores.
def test_mirrored_strategy_averages_over_the_global_batch_and_draws_distinct_noise():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(l for l in run.stdout.splitlines() if l.startswith("RESULTS"))
    results = json.loads(line[len("RESULTS"):])

    single, mirrored = results["single"], results["mirrored"]
    # Had each replica averaged over its own half-batch, the summed gradients would double the update.
    assert abs(mirrored["d_loss"] - single["d_loss"]) < 1e-5
    assert not all(np.allclose(a, b) for a, b in zip(results["initial"], single["discriminator"]))
    for a, b in zip(single["discriminator"], mirrored["discriminator"]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mirrored["generator_bias"], single["generator_bias"], rtol=1e-5, atol=1e-6)
    assert results["replica_noise_differs"]
    assert results["wgan"] == {"finite": True, "d_iterations": 4, "g_iterations": 2}
