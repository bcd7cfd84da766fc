"""GAN and DCGAN: k discriminator steps, reproducible draws, verbs, saving, conditioning, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.gan import DCGAN, GAN, MinibatchStddev

SHAPE = (8, 8, 1)


def _images(n=32, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n,) + shape).astype("float32")


def _gan(**kwargs):
    return GAN(image_shape=kwargs.pop("image_shape", SHAPE), latent_dim=4, hidden_units=(16, 16), seed=0, **kwargs)


def _dcgan(**kwargs):
    return DCGAN(image_shape=kwargs.pop("image_shape", SHAPE), latent_dim=4, filters=8, seed=0, **kwargs)


@pytest.mark.parametrize("make", [_gan, _dcgan])
def test_k_discriminator_steps_per_generator_step(make):
    model = make(d_steps=3)
    model.compile(loss="minimax")
    model.fit(_images(32), batch_size=8, epochs=1, verbose=0)  # One epoch: 4 train steps.
    assert int(model.g_optimizer.iterations) == 4
    assert int(model.d_optimizer.iterations) == 3 * int(model.g_optimizer.iterations)


def test_each_player_only_moves_its_own_weights():
    model = _gan()
    model.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.0))
    g_before = [w.copy() for w in model.generator.get_weights()]
    d_before = [w.copy() for w in model.discriminator.get_weights()]
    model.fit(_images(16), batch_size=8, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(g_before, model.generator.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(d_before, model.discriminator.get_weights()))


@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "wasserstein", "least_squares"])
def test_every_game_trains_and_reports_its_metrics(loss):
    model = _dcgan(discriminator_norm="layer")
    model.compile(loss=loss)
    logs = model.fit(_images(16), batch_size=8, epochs=1, verbose=0).history
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v[-1]) for v in logs.values())
    if loss in ("minimax", "non_saturating"):
        assert 0.0 < logs["d_real"][-1] < 1.0 and 0.0 < logs["d_fake"][-1] < 1.0
    test = model.evaluate(_images(8), batch_size=8, verbose=0, return_dict=True)
    assert set(test) == set(logs)


def test_same_seed_reproduces_training_draws_and_samples():
    histories, samples = [], []
    for _ in range(2):
        keras.utils.set_random_seed(1)
        model = _dcgan()
        model.compile()
        histories.append(model.fit(_images(16), batch_size=8, epochs=2, shuffle=False, verbose=0).history)
        samples.append(model.sample(4, seed=3).numpy())
    assert histories[0] == histories[1]
    np.testing.assert_array_equal(samples[0], samples[1])
    assert not np.array_equal(model.sample(4, seed=3).numpy(), model.sample(4, seed=4).numpy())
    np.testing.assert_array_equal(model.latents(4, seed=3).numpy(), model.latents(4, seed=3).numpy())


@pytest.mark.parametrize("make", [_gan, _dcgan])
def test_keras_save_and_reload_give_identical_samples(tmp_path, make):
    model = make(num_classes=3)
    model.compile(loss="minimax")
    model.fit(_images(16), np.arange(16) % 3, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    labels = [0, 1, 2, 0]
    np.testing.assert_array_equal(restored.sample(4, seed=2, labels=labels).numpy(),
                                  model.sample(4, seed=2, labels=labels).numpy())
    assert restored.loss_name == "minimax"
    assert int(restored.d_optimizer.iterations) == int(model.d_optimizer.iterations) == 2
    assert int(restored.g_optimizer.iterations) == 2


@pytest.mark.parametrize("make", [_gan, _dcgan])
def test_get_config_round_trip(make):
    model = make(num_classes=4, d_steps=2)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()


def test_dcgan_architectures_for_28_and_32_pixels():
    small = DCGAN(image_shape=(28, 28, 1))
    colour = DCGAN(image_shape=(32, 32, 3))
    assert small.sample(2, seed=0).shape == (2, 28, 28, 1)
    assert colour.sample(2, seed=0).shape == (2, 32, 32, 3)
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in small.discriminator.layers)
    tanh = small.generator.layers[-1].activation
    assert tanh is keras.activations.tanh
    images = small.sample(8, seed=1).numpy()
    assert images.min() >= -1.0 and images.max() <= 1.0


def test_conditioning_changes_the_images():
    model = _dcgan(num_classes=3)
    z = model.latents(1, seed=0)
    a = model.generate(z, labels=[0]).numpy()
    b = model.generate(z, labels=[2]).numpy()
    assert not np.allclose(a, b)


def test_interpolation_paths():
    model = _gan()
    z0, z1 = model.latents(2, seed=5).numpy()
    for method in ("slerp", "linear"):
        path = model.interpolate(z0, z1, steps=5, method=method).numpy()
        ends = model.generate(np.stack([z0, z1])).numpy()
        np.testing.assert_allclose(path[[0, -1]], ends, atol=1e-5)
    # Slerp between latents of equal norm stays on that sphere; the straight line cuts inside it.
    z1 = z1 / np.linalg.norm(z1) * np.linalg.norm(z0)
    t, omega = 0.5, np.arccos(np.dot(z0, z1) / np.dot(z0, z0))
    midpoint = (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)
    assert np.linalg.norm(midpoint) == pytest.approx(np.linalg.norm(z0), rel=1e-5)
    np.testing.assert_allclose(model.interpolate(z0, z1, steps=3).numpy()[1],
                               model.generate(midpoint[None].astype("float32")).numpy()[0], atol=1e-5)


def test_latent_arithmetic_averages_each_concept():
    model = _gan()
    a, b, c = (model.latents(3, seed=s).numpy() for s in (1, 2, 3))
    image, z = model.latent_arithmetic(a, b, c)
    expected = a.mean(0) - b.mean(0) + c.mean(0)
    np.testing.assert_allclose(z.numpy()[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(image.numpy(), model.generate(expected[None]).numpy(), atol=1e-6)
    single, _ = model.latent_arithmetic(a[0], b[0], c[0])
    assert single.shape == (1,) + SHAPE


def test_wasserstein_refuses_a_batch_normalised_critic():
    with pytest.raises(ValueError, match="discriminator_norm"):
        _dcgan(image_shape=(16, 16, 1), discriminator_norm="batch").compile(loss="wasserstein")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m.generate(np.zeros((2, 5), "float32")), ValueError, r"\(batch, 4\)"),
        (lambda m: m.generate(np.zeros((2, 4), "int32")), TypeError, "float"),
        (lambda m: m.discriminate(np.zeros((2, 8, 8, 3), "float32")), ValueError, "shape"),
        (lambda m: m.discriminate(np.full((2, 8, 8, 1), 2.0, "float32")), ValueError, r"\[-1.0, 1.0\]"),
        (lambda m: m.sample(2, labels=[0, 1]), ValueError, "unconditional"),
        (lambda m: m.interpolate(np.zeros(4), np.ones(4), method="cubic"), ValueError, "method"),
        (lambda m: m.interpolate(np.zeros(3), np.ones(3)), ValueError, r"\(batch, 4\)"),
        (lambda m: m.compile(loss="hinge"), ValueError, "loss"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(_gan())


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="d_steps"):
        _gan(d_steps=0)
    with pytest.raises(ValueError, match="discriminator_norm"):
        _dcgan(discriminator_norm="group")
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(image_shape=SHAPE, latent_dim=0)
    with pytest.raises(TypeError, match="filters"):
        DCGAN(image_shape=SHAPE, hidden_units=(8,))
    with pytest.raises(ValueError, match="image_shape"):
        DCGAN(image_shape=(28, 28))


def _trained_discriminator(batch, **kwargs):
    keras.utils.set_random_seed(3)
    model = _gan(d_steps=2, **kwargs)
    model.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.0))
    model.train_on_batch(batch)
    return model.discriminator.get_weights()


def test_fresh_real_batches_give_each_discriminator_step_its_own_column():
    a, b = _images(8, seed=1), _images(8, seed=2)
    reused = _trained_discriminator(a)
    same_columns = _trained_discriminator(np.stack([a, a], axis=1), fresh_real_batches=True)
    fresh = _trained_discriminator(np.stack([a, b], axis=1), fresh_real_batches=True)
    # A (B, k, ...) batch whose columns are all `a` is exactly the reused batch `a`; a new second column changes step 2.
    for x, y in zip(reused, same_columns):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    assert not all(np.allclose(x, y) for x, y in zip(reused, fresh))


def test_fresh_real_batches_count_k_discriminator_steps_per_batch_of_k_images_per_row():
    model = _gan(d_steps=3, fresh_real_batches=True)
    assert model.real_images_per_example == 3 and _gan(d_steps=3).real_images_per_example == 1
    model.compile()
    images = _images(24).reshape((8, 3) + SHAPE)
    model.fit(images, batch_size=4, epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 2 and int(model.d_optimizer.iterations) == 6
    assert set(model.evaluate(images, batch_size=4, verbose=0, return_dict=True)) == {"d_loss", "g_loss", "d_real", "d_fake"}
    with pytest.raises(ValueError, match=r"k = d_steps = 3"):
        model.train_on_batch(_images(8).reshape((4, 2) + SHAPE))


def test_conditional_fresh_batches_split_the_labels_with_the_images():
    model = _dcgan(num_classes=3, d_steps=2, fresh_real_batches=True)
    model.compile()
    logs = model.fit(_images(16).reshape((8, 2) + SHAPE), (np.arange(16) % 3).reshape(8, 2), batch_size=4, epochs=1,
                     verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())


def test_stabilising_options_build_what_they_say_and_round_trip(tmp_path):
    model = _gan(generator_norm="batch", discriminator_dropout=0.3, label_smoothing=0.1, fresh_real_batches=True)
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in model.generator.layers)
    assert any(isinstance(l, keras.layers.Dropout) for l in model.discriminator.layers)
    assert not any(isinstance(l, keras.layers.Dropout) for l in _gan().discriminator.layers)
    model.compile()
    model.fit(_images(16), batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.sample(4, seed=1).numpy(), model.sample(4, seed=1).numpy())


def test_label_smoothing_moves_the_discriminator_loss_on_real_images_only():
    plain, smoothed = _gan(), _gan(label_smoothing=0.2)
    smoothed.set_weights(plain.get_weights())
    for m in (plain, smoothed):
        m.compile()
    images = tf.constant(_images(8))
    keras.utils.set_random_seed(0)
    loss_plain, real, fake = plain._discriminator_loss(images, None, training=False)
    keras.utils.set_random_seed(0)
    loss_smoothed, _, _ = smoothed._discriminator_loss(images, None, training=False)
    expected = 0.8 * tf.nn.softplus(-real) + 0.2 * tf.nn.softplus(real) + tf.nn.softplus(fake)
    np.testing.assert_allclose(loss_smoothed.numpy(), expected.numpy(), rtol=1e-5)
    assert not np.allclose(loss_plain.numpy(), loss_smoothed.numpy())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"fresh_real_batches": 1}, TypeError, "fresh_real_batches"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing"),
        ({"generator_norm": "layer"}, ValueError, "generator_norm"),
        ({"discriminator_dropout": -0.1}, ValueError, "discriminator_dropout"),
    ],
)
def test_bad_stabilising_options_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        _gan(**kwargs)


def test_dcgan_refuses_the_fully_connected_options_and_label_smoothing_needs_logits():
    with pytest.raises(TypeError, match="generator_norm"):
        _dcgan(generator_norm="batch")
    with pytest.raises(ValueError, match="label_smoothing"):
        _dcgan(label_smoothing=0.1, discriminator_norm="layer").compile(loss="wasserstein")


def test_minibatch_stddev_appends_the_batch_spread_and_tells_collapsed_batches_apart():
    layer = MinibatchStddev()
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    out = layer(x).numpy()
    np.testing.assert_array_equal(out[:, :5], x)
    np.testing.assert_allclose(out[:, 5], np.full(16, np.std(x, axis=0).mean()), rtol=1e-4)
    collapsed = layer(np.repeat(x[:1], 16, axis=0)).numpy()[:, 5]
    assert np.all(collapsed < 1e-3) and np.all(out[:, 5] > 0.5)
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        layer(np.zeros((2, 3, 3), "float32"))
    model = _gan(minibatch_stddev=True)
    assert any(isinstance(l, MinibatchStddev) for l in model.discriminator.layers)
    clone = GAN.from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.count_params() == model.count_params()
    with pytest.raises(TypeError, match="minibatch_stddev"):
        _dcgan(minibatch_stddev=True)
